// The package's entry point wraps the wasm-bindgen bindings with `harden` (build.sh inlines this
// file into pkg/node/index.js and pkg/web/index.js).
//
// Every Rust function behind the bindings returns failures as values (thrown `Error`s with a
// stable `code`). A Rust panic cannot: on wasm32-unknown-unknown, stable Rust aborts, and the
// abort surfaces as a `WebAssembly.RuntimeError` from whichever call hit it. `harden` turns that
// into an `Error` with `code: "internal_error"` (the `RuntimeError` as its `cause`) and, since an
// aborted instance's memory may be inconsistent, refuses every later call the same way: load the
// module again to recover. Nothing else changes: same classes, methods and results.

/**
 * @param {Record<string, unknown>} raw the wasm-bindgen module's exports
 * @returns {Record<string, unknown>} the same exports, hardened
 */
function harden(raw) {
  let aborted = null;
  const internal = (message, cause) => {
    const error = new Error(message, { cause });
    error.code = 'internal_error';
    error.number = 1;
    error.status = 500;
    return error;
  };
  const translate = (error) => {
    if (error instanceof WebAssembly.RuntimeError) {
      aborted = aborted || error;
      return internal(`Tollgate: internal error: the WebAssembly instance aborted (${error.message}); load the module again`, error);
    }
    return error;
  };
  const refuseIfAborted = () => {
    if (aborted) {
      throw internal('Tollgate: internal error: the WebAssembly instance aborted earlier; load the module again', aborted);
    }
  };
  const guard = (fn) => function guarded(...args) {
    refuseIfAborted();
    let result;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      throw translate(error);
    }
    if (result instanceof Promise) {
      return result.catch((error) => { throw translate(error); });
    }
    return result;
  };
  const wrapMembers = (object, skip) => {
    for (const name of Object.getOwnPropertyNames(object)) {
      if (skip.includes(name) || name.startsWith('__')) continue;
      const d = Object.getOwnPropertyDescriptor(object, name);
      if (typeof d.value === 'function') d.value = guard(d.value);
      if (d.get) d.get = guard(d.get);
      if (d.set) d.set = guard(d.set);
      Object.defineProperty(object, name, d);
    }
  };
  const out = {};
  for (const [name, value] of Object.entries(raw)) {
    const isClass = typeof value === 'function'
      && value.prototype
      && Object.getOwnPropertyNames(value.prototype).some((n) => n !== 'constructor');
    if (isClass) {
      wrapMembers(value.prototype, ['constructor']);
      wrapMembers(value, ['length', 'name', 'prototype']);
      out[name] = new Proxy(value, {
        construct(target, args, newTarget) {
          refuseIfAborted();
          try {
            return Reflect.construct(target, args, newTarget);
          } catch (error) {
            throw translate(error);
          }
        },
      });
    } else if (typeof value === 'function') {
      out[name] = guard(value);
    } else {
      out[name] = value;
    }
  }
  return out;
}
