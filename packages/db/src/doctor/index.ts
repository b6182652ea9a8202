/** `diagnose()` and what it reports: the checks behind `cgk doctor`. */
export { diagnose, type DiagnoseOptions } from './diagnose.js';
export type { DoctorCheck, DoctorReport, DoctorStatus } from './types.js';
