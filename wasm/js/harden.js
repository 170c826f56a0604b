// The package's entry point wraps the wasm-bindgen bindings with `harden` (build.sh inlines this
// file into pkg/node/index.js and pkg/web/index.js).
//
// Every Rust function behind the bindings returns failures as values (thrown `Error`s with a
// stable `code`). A Rust panic cannot: on wasm32-unknown-unknown, stable Rust aborts, and the
// abort surfaces as a `WebAssembly.RuntimeError` from whichever call hit it. `harden` turns that
// into an `Error` with `code: "internal_error"` (the `RuntimeError` as its `cause`). An aborted
// instance's memory may be inconsistent, so it is never called again: the bindings are built
// with wasm-bindgen's `__wbg_reset_state`, which `harden` calls to put a fresh instance of the
// same module in its place. Functions and new objects then work as before; objects made before
// the abort (engines, verifiers) lived in the old instance's memory and refuse every call with
// `internal_error` (make them again; `free` on them does nothing). If no fresh instance can be
// made (bindings without `__wbg_reset_state`, or a runtime that refuses to instantiate
// synchronously), every later call is refused the same way: load the module again to recover.
// Nothing else changes: same classes, methods and results.

/**
 * @param {Record<string, unknown>} raw the wasm-bindgen module's exports
 * @returns {Record<string, unknown>} the same exports, hardened
 */
function harden(raw) {
  const reset = typeof raw.__wbg_reset_state === 'function' ? raw.__wbg_reset_state : null;
  // Which instance is live (one more after each reset), and which instance made each object.
  let instance = 0;
  const madeIn = new WeakMap();
  let aborted = null;
  const classes = [];
  const internal = (message, cause) => {
    const error = new Error(message, { cause });
    error.code = 'internal_error';
    error.number = 1;
    error.status = 500;
    return error;
  };
  const translate = (error) => {
    if (!(error instanceof WebAssembly.RuntimeError)) {
      return error;
    }
    if (!aborted && reset) {
      try {
        reset();
        instance += 1;
        return internal(`Tollgate: internal error: the WebAssembly instance aborted (${error.message}); a fresh instance replaced it: make engines and verifiers again`, error);
      } catch (resetError) {
        aborted = error;
        return internal(`Tollgate: internal error: the WebAssembly instance aborted (${error.message}) and could not be replaced (${resetError.message}); load the module again`, error);
      }
    }
    aborted = aborted || error;
    return internal(`Tollgate: internal error: the WebAssembly instance aborted (${error.message}); load the module again`, error);
  };
  const refuseIfAborted = () => {
    if (aborted) {
      throw internal('Tollgate: internal error: the WebAssembly instance aborted earlier; load the module again', aborted);
    }
  };
  const stale = (object) => object !== null && typeof object === 'object'
    && madeIn.has(object) && madeIn.get(object) !== instance;
  const adopt = (value) => {
    if (value !== null && typeof value === 'object' && classes.some((c) => value instanceof c)) {
      madeIn.set(value, instance);
    }
    return value;
  };
  const guard = (fn, isFree) => function guarded(...args) {
    if (stale(this)) {
      // Its memory went with the aborted instance: freeing it in the new one would corrupt it.
      if (isFree) return undefined;
      throw internal('Tollgate: internal error: this object was made by a WebAssembly instance that aborted; make it again');
    }
    refuseIfAborted();
    let result;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      throw translate(error);
    }
    if (result instanceof Promise) {
      return result.then(adopt, (error) => { throw translate(error); });
    }
    return adopt(result);
  };
  const wrapMembers = (object, skip) => {
    for (const key of Reflect.ownKeys(object)) {
      if (skip.includes(key) || (typeof key === 'string' && key.startsWith('__'))) continue;
      const d = Object.getOwnPropertyDescriptor(object, key);
      const isFree = key === 'free' || key === Symbol.dispose;
      if (typeof d.value === 'function') d.value = guard(d.value, isFree);
      if (d.get) d.get = guard(d.get, false);
      if (d.set) d.set = guard(d.set, false);
      Object.defineProperty(object, key, d);
    }
  };
  const out = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__wbg_reset_state') continue;
    const isClass = typeof value === 'function'
      && value.prototype
      && Object.getOwnPropertyNames(value.prototype).some((n) => n !== 'constructor');
    if (isClass) {
      classes.push(value);
      wrapMembers(value.prototype, ['constructor']);
      wrapMembers(value, ['length', 'name', 'prototype']);
      out[name] = new Proxy(value, {
        construct(target, args, newTarget) {
          refuseIfAborted();
          try {
            return adopt(Reflect.construct(target, args, newTarget));
          } catch (error) {
            throw translate(error);
          }
        },
      });
    } else if (typeof value === 'function') {
      out[name] = guard(value, false);
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * The package's `Error` maker for its JS parts (js/keysource.js, js/store.js): an Error with a
 * stable `code` and that code's `number` and HTTP `status`, shaped as the ones Rust throws.
 * @param {Record<string, any>} api the hardened exports (errorCodes)
 * @returns {(code: string, message: string, cause?: unknown) => Error}
 */
function codedErrors(api) {
  let codes = null;
  return (code, message, cause) => {
    codes ??= new Map(api.errorCodes().map((c) => [c.name, c]));
    const error = new Error(message, cause === undefined ? undefined : { cause });
    const info = codes.get(code);
    error.code = code;
    error.number = info?.number;
    error.status = info?.status;
    return error;
  };
}
