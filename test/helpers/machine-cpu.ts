/** How busy the whole machine was while a benchmark ran (a file of its own: `--vs` runs keep it). */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * How busy this machine's cores were between two samples (Linux /proc/stat: every process,
 * nats-server and the workers included), or undefined where that file does not exist. A bench whose
 * row says nearly 100% is bounded by this machine, not by what it measures.
 */
export function machineCpu(): { busyPercent(): string } {
  const before = sampleCpu();
  return {
    busyPercent: () => {
      const after = sampleCpu();
      if (before === undefined || after === undefined) return 'not measured (no /proc/stat)';
      return `${busyBetween(before, after).toFixed(1)} % of ${cpus().length} cores`;
    },
  };
}

/** The machine's CPU time so far: all of it and the idle part, in clock ticks (/proc/stat). */
function sampleCpu(): { total: number; idle: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.split(/\s+/).slice(1).map(Number);
    // Fields 4 and 5: idle and iowait.
    return {
      total: fields.reduce((sum, value) => sum + value, 0),
      idle: (fields[3] ?? 0) + (fields[4] ?? 0),
    };
  } catch {
    return undefined;
  }
}

function busyBetween(
  before: { total: number; idle: number },
  after: { total: number; idle: number },
): number {
  const total = after.total - before.total;
  return (100 * (total - (after.idle - before.idle))) / Math.max(1, total);
}

/**
 * The busiest stretches of the machine while a bench runs, from /proc/stat read every `everyMs`:
 * a run whose average is low can still have every core busy for a while (jobs that end together),
 * and then every process's timers wait. `stop()` gives the busiest `windowMs` of the run, and the
 * 90th percentile and median of all its `windowMs` windows.
 */
export function machineCpuPeaks(everyMs = 100, windowMs = 500): { stop(): string } {
  const samples: { total: number; idle: number }[] = [];
  const take = () => {
    const sample = sampleCpu();
    if (sample !== undefined) samples.push(sample);
  };
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      take();
      const span = Math.max(1, Math.round(windowMs / everyMs));
      const windows = samples
        .slice(span)
        .map((after, index) => busyBetween(samples[index] ?? after, after))
        .sort((a, b) => a - b);
      if (windows.length === 0) return 'not measured (no /proc/stat, or a run under one window)';
      const at = (share: number) => (windows[Math.floor(share * (windows.length - 1))] ?? 0).toFixed(0);
      return `${at(1)} / ${at(0.9)} / ${at(0.5)} % (${windowMs} ms windows: busiest / p90 / median)`;
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
