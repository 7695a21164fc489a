// Axis k's size and the strides of operands a and b in a broadcasting kernel, from the uniform
// `params` fields d0..d5, a0..a5 and b0..b5 (WGSL cannot index struct fields by a runtime value).
fn dim(k: u32) -> u32 {
  switch k { case 0u: { return params.d0; } case 1u: { return params.d1; } case 2u: { return params.d2; }
    case 3u: { return params.d3; } case 4u: { return params.d4; } default: { return params.d5; } }
}
fn strideA(k: u32) -> u32 {
  switch k { case 0u: { return params.a0; } case 1u: { return params.a1; } case 2u: { return params.a2; }
    case 3u: { return params.a3; } case 4u: { return params.a4; } default: { return params.a5; } }
}
fn strideB(k: u32) -> u32 {
  switch k { case 0u: { return params.b0; } case 1u: { return params.b1; } case 2u: { return params.b2; }
    case 3u: { return params.b3; } case 4u: { return params.b4; } default: { return params.b5; } }
}
