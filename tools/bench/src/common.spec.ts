import { busyMsFromProcStat, cpuSecondsFromStat, peakRssMbFromStatus, processUsage } from './common';

describe('process cost from /proc', () => {
  it('adds utime and stime (fields 14 and 15), whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194304 900 0 3 0 1234 566 7 8 20 0 11 0';
    expect(cpuSecondsFromStat(stat, 100)).toBe(18);
    expect(cpuSecondsFromStat(stat, 1000)).toBe(1.8);
    expect(() => cpuSecondsFromStat('4242 (x) S 1', 100)).toThrow(/unreadable/);
  });

  it('reads the peak resident set (VmHWM) in MB', () => {
    const status = 'Name:\tnode\nVmPeak:\t 1000000 kB\nVmHWM:\t  262144 kB\nVmRSS:\t  200000 kB\n';
    expect(peakRssMbFromStatus(status)).toBe(256);
    expect(() => peakRssMbFromStatus('Name:\tnode\n')).toThrow(/VmHWM/);
  });

  it('measures this process: some CPU, and at least the memory it now holds', () => {
    const rssMb = Math.floor(process.memoryUsage().rss / 1024 / 1024);
    const usage = processUsage(process.pid);
    expect(usage.cpu_s).toBeGreaterThan(0);
    expect(usage.peak_rss_mb).toBeGreaterThanOrEqual(rssMb);
  });
});

describe('machine CPU from /proc/stat', () => {
  it('counts user, nice, system, irq, softirq and steal as busy; idle and iowait only in the total', () => {
    const stat = 'cpu  100 20 30 400 50 6 7 8 90 0\ncpu0 50 10 15 200 25 3 3 4 45 0\n';
    expect(busyMsFromProcStat(stat, 100)).toEqual({ busy: 1710, total: 6210 });
    expect(() => busyMsFromProcStat('intr 1 2 3', 100)).toThrow(/unreadable/);
  });
});
