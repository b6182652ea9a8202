/** What a diagnosis reports: one finding per check, and the whole report. */

export type DoctorStatus = 'ok' | 'warn' | 'fail';

/** One finding. `detail` says what was seen; `hint` what to do about it. */
export interface DoctorCheck {
  name: string;
  status: DoctorStatus;
  detail: string;
  hint?: string;
}

export interface DoctorReport {
  /** False when any check failed. Warnings do not make the report fail. */
  ok: boolean;
  checks: DoctorCheck[];
  durationMs: number;
}
