import type { Readings } from './device';

/**
 * Readings of plausible sensors, deterministic for a seed: each call of `next()` is the next
 * measurement (e.g. once a second).
 */
export interface Sensor {
  next(): Readings;
}

/** A small PRNG (mulberry32) so runs repeat. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Room temperature drifting around `base` °C, with humidity. */
export function temperatureSensor(seed = 1, base = 22): Sensor {
  const rnd = seeded(seed);
  let t = base;
  return {
    next: () => {
      t += (rnd() - 0.5) * 0.4 + (base - t) * 0.05;
      return { temperature_c: round(t, 2), humidity_pct: round(45 + rnd() * 10, 1) };
    },
  };
}

/** Smoke density in ppm: clean air unless `fire()` was called. */
export function smokeSensor(seed = 2): Sensor & { fire(on: boolean): void } {
  const rnd = seeded(seed);
  let burning = false;
  return {
    fire: (on) => void (burning = on),
    next: () => ({ smoke_ppm: round(burning ? 400 + rnd() * 200 : rnd() * 10, 1), battery_pct: 97 }),
  };
}

/** An electricity meter: a monotonic register in kWh and the present power in W. */
export function meter(seed = 3, startKwh = 1000): Sensor {
  const rnd = seeded(seed);
  let kwh = startKwh;
  return {
    next: () => {
      const w = 200 + rnd() * 1800;
      kwh += w / 3_600_000;
      return { energy_kwh: round(kwh, 4), power_w: round(w, 1) };
    },
  };
}

/** Indoor air: CO2 ppm, PM2.5, VOC index. */
export function airSensor(seed = 4): Sensor {
  const rnd = seeded(seed);
  let co2 = 600;
  return {
    next: () => {
      co2 = Math.max(400, co2 + (rnd() - 0.48) * 30);
      return {
        co2_ppm: round(co2, 0),
        pm25_ugm3: round(5 + rnd() * 20, 1),
        voc_index: round(80 + rnd() * 60, 0),
      };
    },
  };
}

/** A water leak detector: 0 dry, 1 wet. */
export function waterSensor(): Sensor & { leak(on: boolean): void } {
  let wet = false;
  return { leak: (on) => void (wet = on), next: () => ({ water_detected: wet ? 1 : 0 }) };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
