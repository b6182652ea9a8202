import type { Command } from 'commander';
import type { Context } from '../context.js';

/** Registers commands on the program; each command file exports one of these, listed in commands/index.ts. */
export type Register = (program: Command, ctx: Context, done: (code: number) => void) => void;
