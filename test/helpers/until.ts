/**
 * Waiting for a state, never for a time (docs/STYLE.md): `probe` is called one call at a time, every 50 ms,
 * until it returns something truthy, which is returned.
 *
 *   const pid = await until('runner A to start building', async () => (await db.query(...))[0]?.pid);
 *
 * The cap only turns a hang into a failure with a name: the states waited for arrive in milliseconds when the
 * code is right, so it is no timing assertion.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  capMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + capMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
