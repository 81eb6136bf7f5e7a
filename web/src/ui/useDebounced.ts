import { useEffect, useState } from "react";

/** `value` once it has stopped changing for `delay` ms: a filter typed key by key asks the server once,
 * after the typing stops. */
export function useDebounced<T>(value: T, delay = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}
