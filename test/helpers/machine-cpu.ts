/** How busy the whole machine was while a benchmark ran (a file of its own: `--vs` runs keep it). */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * How busy this machine's cores were between two samples (Linux /proc/stat: every process,
 * nats-server and the workers included), or undefined where that file does not exist. A bench whose
 * row says nearly 100% is bounded by this machine, not by what it measures.
 */
export function machineCpu(): { busyPercent(): string } {
  const sample = (): number[] | undefined => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      return line.split(/\s+/).slice(1).map(Number);
    } catch {
      return undefined;
    }
  };
  const before = sample();
  return {
    busyPercent: () => {
      const after = sample();
      if (before === undefined || after === undefined) return 'not measured (no /proc/stat)';
      const delta = after.map((value, index) => value - (before[index] ?? 0));
      const total = delta.reduce((sum, value) => sum + value, 0);
      // Fields 4 and 5: idle and iowait.
      const idle = (delta[3] ?? 0) + (delta[4] ?? 0);
      return `${((100 * (total - idle)) / Math.max(1, total)).toFixed(1)} % of ${cpus().length} cores`;
    },
  };
}

/**
 * CPU milliseconds the processes `pids` have used so far (Linux /proc/PID/stat: user + system),
 * or undefined where that file cannot be read.
 */
export function processCpuMs(pids: readonly number[]): number | undefined {
  let ticks = 0;
  try {
    for (const pid of pids) {
      // The command name (field 2) may hold spaces: the fields after it start past its ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name.
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  } catch {
    return undefined;
  }
  // The kernel counts in USER_HZ, 100 per second on Linux.
  return ticks * 10;
}
