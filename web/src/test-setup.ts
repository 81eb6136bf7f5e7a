// jsdom has no matchMedia; uPlot (behind the ui barrel's Chart) reads it when its module loads, so
// any unit test that imports from "../ui" needs it. A media query that never matches is what a
// headless page without a screen would answer.
if (typeof window !== "undefined" && typeof window.matchMedia !== "function") {
  window.matchMedia = (query: string): MediaQueryList =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      addListener: () => undefined,
      removeListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList;
}
