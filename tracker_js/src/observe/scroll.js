// Maximum scroll depth of the page view, 0..1 in hundredths. The scroll handler only schedules one
// animation frame; the frame reads scrollY, innerHeight and scrollHeight once.
export function scroll({ w, d, emit, on, safe }) {
  let max = 0;
  let sent = 0;
  let queued = false;
  const measure = () => {
    if (!queued) return;
    queued = false;
    const height = d.documentElement.scrollHeight;
    max = Math.max(max, height > 0 ? Math.min(1, (w.scrollY + w.innerHeight) / height) : 1);
  };
  const schedule = () => {
    if (!queued) w.requestAnimationFrame(safe(measure));
    queued = true;
  };
  on(w, 'scroll', schedule);
  return {
    page() {
      max = sent = 0;
      schedule();
    },
    collect() {
      measure(); // hidden pages get no frames
      const depth = Math.round(max * 100) / 100;
      if (depth > sent) emit('scroll', { depth: (sent = depth) });
    },
  };
}
