/** Flag parsers shared by commands: a bad value is a usage error (exit 2) that names the flag's form. */
import { InvalidArgumentError } from 'commander';

export function parseVersion(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a version is the leading digits of a file name, e.g. 003.');
  return value;
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('use a whole number of 1 or more.');
  return Number(value);
}

export function parseWait(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('use a whole number of seconds, e.g. 120.');
  return Number(value);
}
