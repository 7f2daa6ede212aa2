/**
 * Device profiles (docs/iot.md "Profiles"): per kind of device, how long it may stay silent before
 * it counts as offline, and the alarm rules its readings are checked against. A device names its
 * profile at registration (default: its kind's). Profiles are code, reviewed like code.
 */

export const DEVICE_KINDS = [
  'door_controller',
  'parking_gate',
  'parking_camera',
  'ev_charger',
  'smoke_sensor',
  'temperature_sensor',
  'water_sensor',
  'air_sensor',
  'meter',
] as const;
export type DeviceKindName = (typeof DEVICE_KINDS)[number];

export type AlarmSeverityName = 'INFO' | 'WARNING' | 'CRITICAL';

/**
 * A threshold rule: the alarm `type` is raised when `metric` is above `above` for `sustainedS`
 * seconds of the device's own clock (0: at the first such reading), and cleared by the rule when a
 * reading is at or below `clearAtOrBelow` (default `above`).
 */
export interface AlarmRule {
  type: string;
  metric: string;
  above: number;
  sustainedS: number;
  severity: AlarmSeverityName;
  clearAtOrBelow?: number;
}

export interface DeviceProfile {
  name: string;
  kinds: readonly DeviceKindName[];
  /** Offline after this long without any message (besides the broker's last will). */
  inactivityTimeoutS: number;
  rules: readonly AlarmRule[];
}

const SMOKE: AlarmRule = {
  type: 'SMOKE',
  metric: 'smoke_ppm',
  above: 150,
  sustainedS: 0,
  severity: 'CRITICAL',
};
const WATER: AlarmRule = {
  type: 'WATER_LEAK',
  metric: 'water_detected',
  above: 0.5,
  sustainedS: 0,
  severity: 'CRITICAL',
};

export const PROFILES: readonly DeviceProfile[] = [
  { name: 'door-controller', kinds: ['door_controller'], inactivityTimeoutS: 120, rules: [] },
  { name: 'parking-gate', kinds: ['parking_gate'], inactivityTimeoutS: 120, rules: [] },
  { name: 'parking-camera', kinds: ['parking_camera'], inactivityTimeoutS: 120, rules: [] },
  { name: 'ev-charger', kinds: ['ev_charger'], inactivityTimeoutS: 300, rules: [] },
  { name: 'smoke-sensor', kinds: ['smoke_sensor'], inactivityTimeoutS: 600, rules: [SMOKE] },
  {
    name: 'temperature-sensor',
    kinds: ['temperature_sensor'],
    inactivityTimeoutS: 600,
    rules: [
      {
        type: 'OVER_TEMPERATURE',
        metric: 'temperature_c',
        above: 60,
        sustainedS: 30,
        severity: 'WARNING',
        clearAtOrBelow: 55,
      },
    ],
  },
  { name: 'water-sensor', kinds: ['water_sensor'], inactivityTimeoutS: 600, rules: [WATER] },
  {
    name: 'air-sensor',
    kinds: ['air_sensor'],
    inactivityTimeoutS: 600,
    rules: [
      {
        type: 'HIGH_CO2',
        metric: 'co2_ppm',
        above: 2000,
        sustainedS: 60,
        severity: 'WARNING',
        clearAtOrBelow: 1500,
      },
    ],
  },
  { name: 'meter', kinds: ['meter'], inactivityTimeoutS: 3600, rules: [] },
  /**
   * Short timings for tests, demos and benches: silent 3 s = offline, temperature above 60 for
   * 2 s, smoke and water at once.
   */
  {
    name: 'lab-sensor',
    kinds: ['smoke_sensor', 'temperature_sensor', 'water_sensor', 'air_sensor', 'meter'],
    inactivityTimeoutS: 3,
    rules: [
      SMOKE,
      WATER,
      {
        type: 'OVER_TEMPERATURE',
        metric: 'temperature_c',
        above: 60,
        sustainedS: 2,
        severity: 'WARNING',
        clearAtOrBelow: 55,
      },
    ],
  },
];

const BY_NAME = new Map(PROFILES.map((p) => [p.name, p]));

export function profileNamed(name: string): DeviceProfile | undefined {
  return BY_NAME.get(name);
}

/** The profile a device of `kind` gets when its registration names none. */
export function defaultProfile(kind: DeviceKindName): DeviceProfile {
  return BY_NAME.get(kind.replace(/_/g, '-')) as DeviceProfile;
}

const WATCHED = new WeakMap<DeviceProfile, ReadonlySet<string>>();

/**
 * The metrics any rule of the profile watches (what ingest also routes to the alarms topic): made
 * once per profile (ingest asks for every message; a profile's rules do not change).
 */
export function watchedMetrics(profile: DeviceProfile): ReadonlySet<string> {
  let watched = WATCHED.get(profile);
  if (!watched) {
    watched = new Set(profile.rules.map((r) => r.metric));
    WATCHED.set(profile, watched);
  }
  return watched;
}
