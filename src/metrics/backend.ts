// Times every call into the backend contract, whichever command makes it: Sync reads stamps and
// items without going through backendCall (src/commands/deps.ts), so the backend itself is
// wrapped. `watch` is left alone: it lasts as long as a user has held requests.
import { isBackendError } from '../backend/errors.js';

/** Methods of the optional parts of the contract, timed as "<part>.<method>". */
const parts = ['folders', 'mail', 'search', 'oof', 'changes', 'attachments'] as const;
const untimed = new Set<PropertyKey>(['watch', 'close', 'name']);

export type BackendObserver = (capability: string, outcome: string, seconds: number) => void;

/** The backend (or any part of the contract, such as the login function) with its calls timed. */
export function instrumentBackend<B extends object>(backend: B, observe: BackendObserver): B {
  return wrap(backend, '', observe, true);
}

function wrap<T extends object>(target: T, prefix: string, observe: BackendObserver, root: boolean): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      // The target as receiver: getters of classes with #private fields need it.
      const value: unknown = Reflect.get(t, prop);
      if (typeof prop !== 'string' || untimed.has(prop) || value === undefined || value === null)
        return value;
      const hit = cache.get(prop);
      if (hit !== undefined) return hit;
      let wrapped: unknown;
      if (typeof value === 'function') {
        const fn = value as (...args: unknown[]) => unknown;
        const name = `${prefix}${prop}`;
        wrapped = function timed(...args: unknown[]): unknown {
          const start = performance.now();
          const done = (outcome: string): void => observe(name, outcome, (performance.now() - start) / 1000);
          let result: unknown;
          try {
            result = fn.apply(t, args);
          } catch (err) {
            done(outcomeOf(err));
            throw err;
          }
          if (result instanceof Promise)
            result.then(
              () => done('ok'),
              (err: unknown) => done(outcomeOf(err)),
            );
          else done('ok');
          return result;
        };
      } else if (root && typeof value === 'object' && (parts as readonly string[]).includes(prop)) {
        wrapped = wrap(value, `${prop}.`, observe, false);
      } else return value;
      cache.set(prop, wrapped);
      return wrapped;
    },
  });
}

function outcomeOf(err: unknown): string {
  if (isBackendError(err)) return err.kind;
  if ((err as { name?: string }).name === 'AbortError') return 'aborted';
  return 'error';
}
