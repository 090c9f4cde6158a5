// Facts are read once per host per run and shared by every step; a step that changes what a
// fact describes forgets it, so the next reader sees the new state. Some facts may change with
// anything applied anywhere (a broker that Pacemaker starts once the resources step ran): those are
// kept only until the run applies its next action, so a run that changes nothing reads them once.
import type { Result } from '../util/result.ts';

export class FactCache {
  private readonly facts = new Map<string, Promise<Result<unknown>>>();
  private readonly untilChange = new Set<string>();

  get<T>(host: string, name: string, read: () => Promise<Result<T>>): Promise<Result<T>> {
    const key = `${host}\0${name}`;
    let p = this.facts.get(key) as Promise<Result<T>> | undefined;
    if (!p) {
      p = read();
      this.facts.set(key, p);
    }
    return p;
  }

  /** Like get, but forgotten as soon as the run applies any action on any host (see changed). */
  getUntilChange<T>(host: string, name: string, read: () => Promise<Result<T>>): Promise<Result<T>> {
    this.untilChange.add(`${host}\0${name}`);
    return this.get(host, name, read);
  }

  /** The run applied an action somewhere: every fact read with getUntilChange is read afresh. */
  changed(): void {
    for (const key of this.untilChange) this.facts.delete(key);
    this.untilChange.clear();
  }

  forget(host: string, name?: string): void {
    for (const key of [...this.facts.keys()]) {
      const [h, n] = key.split('\0');
      if (h === host && (name === undefined || n === name)) this.facts.delete(key);
    }
  }
}
