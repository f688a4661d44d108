/** Runs ``callback`` at most once per animation frame, however often ``schedule`` is called. */
export interface FrameThrottle {
  schedule(): void;
  /** Run now if a run is pending (e.g. when the answer ends). */
  flush(): void;
  cancel(): void;
}

export function frameThrottle(
  callback: () => void,
  request: (cb: FrameRequestCallback) => number = (cb) => requestAnimationFrame(cb),
  cancelRequest: (handle: number) => void = (handle) => cancelAnimationFrame(handle),
): FrameThrottle {
  let handle: number | null = null;
  const run = () => {
    handle = null;
    callback();
  };
  return {
    schedule() {
      if (handle === null) handle = request(run);
    },
    flush() {
      if (handle === null) return;
      cancelRequest(handle);
      run();
    },
    cancel() {
      if (handle !== null) cancelRequest(handle);
      handle = null;
    },
  };
}
