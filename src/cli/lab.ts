// `osha lab`: placeholder wiring; the lab commands are being built in src/lab/.
import { Command } from 'commander';

export function labCommand(): Command {
  return new Command('lab').description('local lab of systemd-nspawn nodes (in progress)');
}
