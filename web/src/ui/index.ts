export { Button, buttonClass } from "./Button";
export { Dialog } from "./Dialog";
export { Chart, uPlot, type ChartOptions } from "./Chart";
export { Field, Input, PercentInput, Select, TextArea, inputClass } from "./Field";
export { Badge, Card, Code, CopyButton, EmptyState, ErrorBanner, formatDate, PageHeader, Spinner, Toggle } from "./misc";
export { ScrollArea } from "./ScrollArea";
export { useDebounced } from "./useDebounced";
