// The ESM build of wgsl_reflect (the only one Node can import by name) ships without its own .d.ts path.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
