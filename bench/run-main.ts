// A benchmark's entry: runs `main`, exits 0 when it resolves and 1 with its error when it throws
// (a benchmark's helpers may leave timers or sockets that would otherwise hold the process open).
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
