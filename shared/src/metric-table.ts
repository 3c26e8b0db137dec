/**
 * Prometheus metrics declared from a table, so a process's metrics module lists only each metric's
 * name, help, labels and buckets, and the code refers to each metric by its key in the table.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

interface SpecBase<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface CounterSpec<L extends string = string> extends SpecBase<L> {
  kind: 'counter';
}

export interface GaugeSpec<L extends string = string> extends SpecBase<L> {
  kind: 'gauge';
}

export interface HistogramSpec<L extends string = string> extends SpecBase<L> {
  kind: 'histogram';
  buckets: readonly number[];
}

export type MetricSpec = CounterSpec | GaugeSpec | HistogramSpec;
export type MetricTable = Record<string, MetricSpec>;

/** Label names are optional in prom-client; without them a metric takes any label. */
function withLabels<L extends string>(base: { name: string; help: string }, labelNames?: readonly L[]) {
  return labelNames === undefined ? base : { ...base, labelNames };
}

/** Builds the spec of a metric kind that takes no buckets. */
function unbucketed<K extends 'counter' | 'gauge'>(kind: K) {
  return <const L extends string = string>(
    name: string,
    help: string,
    labelNames?: readonly L[],
  ): SpecBase<L> & { kind: K } => ({ kind, ...withLabels({ name, help }, labelNames) });
}

export const counter = unbucketed('counter');
export const gauge = unbucketed('gauge');

export function histogram<const L extends string = string>(
  name: string,
  help: string,
  buckets: readonly number[],
  labelNames?: readonly L[],
): HistogramSpec<L> {
  return { kind: 'histogram', buckets, ...withLabels({ name, help }, labelNames) };
}

type MetricOf<S extends MetricSpec> =
  S extends CounterSpec<infer L>
    ? Counter<L>
    : S extends GaugeSpec<infer L>
      ? Gauge<L>
      : S extends HistogramSpec<infer L>
        ? Histogram<L>
        : never;

/** The metrics of a table, by their keys. */
export type DeclaredMetrics<T extends MetricTable> = { readonly [K in keyof T]: MetricOf<T[K]> };

/** Metrics with the registry that serves them. */
export type RegistryMetrics<T extends MetricTable> = DeclaredMetrics<T> & { readonly registry: Registry };

function declareMetric(registry: Registry, spec: MetricSpec): Counter | Gauge | Histogram {
  const { name, help } = spec;
  const labels = spec.labelNames === undefined ? {} : { labelNames: spec.labelNames };
  const registers = [registry];
  switch (spec.kind) {
    case 'counter':
      return new Counter({ name, help, ...labels, registers });
    case 'gauge':
      return new Gauge({ name, help, ...labels, registers });
    case 'histogram':
      return new Histogram({ name, help, buckets: [...spec.buckets], ...labels, registers });
  }
}

/** Registers every metric of `table` in `registry`, in the table's order. */
export function declareMetrics<T extends MetricTable>(registry: Registry, table: T): DeclaredMetrics<T> {
  const metrics = Object.entries(table).map(([key, spec]) => [key, declareMetric(registry, spec)]);
  return Object.fromEntries(metrics) as DeclaredMetrics<T>;
}

/**
 * The metrics of `table` in a registry of their own, so several services in one process (tests,
 * the scale bench) never collide.
 */
export function metricsInOwnRegistry<T extends MetricTable>(table: T): RegistryMetrics<T> {
  const registry = new Registry();
  return { ...declareMetrics(registry, table), registry };
}
