// Joins one value per invocation across a workgroup that owns one row, for the subgroup variants of
// the row kernels. The including shader starts with `enable subgroups;` and defines WG as a multiple
// of 128: WebGPU's subgroup sizes are powers of two from 4 to 128, so the workgroup is then whole
// subgroups whatever size the device picks at run time.
//
// WGSL leaves open which invocations form a subgroup (they need not be consecutive local indices),
// so a subgroup has no slot of its own to leave its result in. Every invocation stores its value
// under its local index instead, and every subgroup folds all WG slots: lane i of a subgroup of
// size S takes slots i, i + S, …, and one subgroup operation joins the lanes. That is one barrier
// per reduction (a tree needs log2 WG), and every subgroup ends holding the same total, in the same
// order, so nothing has to be broadcast back.
var<workgroup> rowPartial: array<f32, WG>;
var<workgroup> rowPartialIndex: array<u32, WG>;

// The entry points take these two structs of builtins: where the workgroup sits in the grid (uniform
// across it, so a row past the end may return before the barriers), and where an invocation sits:
// its local index, and its index and size within its subgroup.
struct RowGroup {
  @builtin(workgroup_id) id: vec3u,
  @builtin(num_workgroups) count: vec3u,
}

struct Lane {
  @builtin(local_invocation_index) local: u32,
  @builtin(subgroup_invocation_id) id: u32,
  @builtin(subgroup_size) size: u32,
}

// A row's largest value and the first column holding it.
struct Best { value: f32, index: u32 }

// The row this workgroup owns, the grid folded into y past 65,535 workgroups (grid1d with size 1).
fn workgroupRow(group: RowGroup) -> u32 {
  return group.id.x + group.id.y * group.count.x;
}

fn rowSum(value: f32, lane: Lane) -> f32 {
  // The previous reduction's reads finish before its slots are overwritten.
  workgroupBarrier();
  rowPartial[lane.local] = value;
  workgroupBarrier();
  var sum = 0.0;
  for (var i = lane.id; i < WG; i += lane.size) { sum += rowPartial[i]; }
  return subgroupAdd(sum);
}

// Each invocation's value must be one of the row's (an invocation past the row's end passes the
// row's first value), since there is no −∞ to start from.
fn rowMax(value: f32, lane: Lane) -> f32 {
  workgroupBarrier();
  rowPartial[lane.local] = value;
  workgroupBarrier();
  var largest = rowPartial[lane.id];
  for (var i = lane.id + lane.size; i < WG; i += lane.size) { largest = max(largest, rowPartial[i]); }
  return subgroupMax(largest);
}

// The largest value and the lowest column that holds it, as the invocation-per-row kernels pick
// on ties. Each invocation passes its own first maximum, or (the row's first value, column 0).
fn rowArgmax(best: Best, lane: Lane) -> Best {
  workgroupBarrier();
  rowPartial[lane.local] = best.value;
  rowPartialIndex[lane.local] = best.index;
  workgroupBarrier();
  var value = rowPartial[lane.id];
  var index = rowPartialIndex[lane.id];
  for (var i = lane.id + lane.size; i < WG; i += lane.size) {
    let v = rowPartial[i];
    let j = rowPartialIndex[i];
    if (v > value || (v == value && j < index)) { value = v; index = j; }
  }
  let largest = subgroupMax(value);
  return Best(largest, subgroupMin(select(0xffffffffu, index, value == largest)));
}
