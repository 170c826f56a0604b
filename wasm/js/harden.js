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
// `internal_error`, as do calls given one as an argument (make them again; `free` on them does
// nothing). Misuse the bindings themselves catch (an object used after `free`, one of the wrong
// class) throws `invalid_options`. If no fresh instance can be
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
  // Calls running now (one at most: see `guard`).
  let depth = 0;
  const classes = [];
  const internal = (message, cause) => {
    const error = new Error(message, { cause });
    error.code = 'internal_error';
    error.number = 1;
    error.status = 500;
    return error;
  };
  // The bindings' own refusals (an object already freed, an object of the wrong class where one
  // is expected) are plain Errors: they get the code of a misused API, `invalid_options`.
  let misuse = null;
  const coded = (error) => {
    if (error instanceof Error && error.code === undefined) {
      misuse ??= raw.errorCodes().find((c) => c.name === 'invalid_options');
      error.code = misuse.name;
      error.number = misuse.number;
      error.status = misuse.status;
    }
    return error;
  };
  const translate = (error) => {
    if (!(error instanceof WebAssembly.RuntimeError)) {
      return coded(error);
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
  // A call made while another is running (from a toJSON, a getter or a header iterator the
  // outer call or constructor reads) is refused: were it to abort, the instance would be
  // replaced under the outer call, which would go on in the new instance's memory.
  const refuseIfNested = () => {
    if (depth > 0) {
      throw coded(new Error('Tollgate: a call into the package from inside another call (a toJSON, a getter or an iterator it reads) is refused'));
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
  const guard = (fn, isFree, cls) => function guarded(...args) {
    // The bindings take `this` on trust: a method called on another class's object would read
    // that object's memory as its own.
    if (cls && !(this instanceof cls)) {
      throw coded(new TypeError(`${cls.name}.prototype.${fn.name || 'method'} called on an object that is not a ${cls.name}`));
    }
    if (stale(this)) {
      // Its memory went with the aborted instance: freeing it in the new one would corrupt it.
      if (isFree) return undefined;
      throw internal('Tollgate: internal error: this object was made by a WebAssembly instance that aborted; make it again');
    }
    if (args.some(stale)) {
      throw internal('Tollgate: internal error: an argument was made by a WebAssembly instance that aborted; make it again');
    }
    refuseIfAborted();
    refuseIfNested();
    let result;
    depth += 1;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      throw translate(error);
    } finally {
      depth -= 1;
    }
    if (result instanceof Promise) {
      return result.then(adopt, (error) => { throw translate(error); });
    }
    return adopt(result);
  };
  const wrapMembers = (object, skip, cls) => {
    for (const key of Reflect.ownKeys(object)) {
      if (skip.includes(key) || (typeof key === 'string' && key.startsWith('__'))) continue;
      const d = Object.getOwnPropertyDescriptor(object, key);
      const isFree = key === 'free' || key === Symbol.dispose;
      if (typeof d.value === 'function') d.value = guard(d.value, isFree, cls);
      if (d.get) d.get = guard(d.get, false, cls);
      if (d.set) d.set = guard(d.set, false, cls);
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
      wrapMembers(value.prototype, ['constructor'], value);
      wrapMembers(value, ['length', 'name', 'prototype'], null);
      out[name] = new Proxy(value, {
        construct(target, args, newTarget) {
          refuseIfAborted();
          refuseIfNested();
          depth += 1;
          try {
            return adopt(Reflect.construct(target, args, newTarget));
          } catch (error) {
            throw translate(error);
          } finally {
            depth -= 1;
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
