// Facts are read once per host per run and shared by every step; a step that changes what a
// fact describes forgets it, so the next reader sees the new state.
import type { Result } from '../util/result.ts';

export class FactCache {
  private readonly facts = new Map<string, Promise<Result<unknown>>>();

  get<T>(host: string, name: string, read: () => Promise<Result<T>>): Promise<Result<T>> {
    const key = `${host}\0${name}`;
    let p = this.facts.get(key) as Promise<Result<T>> | undefined;
    if (!p) {
      p = read();
      this.facts.set(key, p);
    }
    return p;
  }

  forget(host: string, name?: string): void {
    for (const key of [...this.facts.keys()]) {
      const [h, n] = key.split('\0');
      if (h === host && (name === undefined || n === name)) this.facts.delete(key);
    }
  }
}
