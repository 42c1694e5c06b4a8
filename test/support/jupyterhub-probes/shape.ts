import type { Shape } from './model.js';

/** Fills `{user}` and the like from the run's names; unknown names stay as they are. */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\{([a-zA-Z]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** The same through arrays and objects (keys too). */
export function substituteDeep(value: unknown, values: Record<string, string>): unknown {
  if (typeof value === 'string') return substitute(value, values);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [substitute(k, values), substituteDeep(v, values)]),
    );
  }
  return value;
}

/** `null` when `value` matches `shape`, else where and how it does not. */
export function shapeMismatch(value: unknown, shape: Shape, at = 'body'): string | null {
  if (typeof shape === 'string') {
    switch (shape) {
      case 'any':
        return value === undefined ? `${at} is missing` : null;
      case 'array':
        return Array.isArray(value) ? null : `${at} is not an array`;
      case 'object':
        return value !== null && typeof value === 'object' && !Array.isArray(value)
          ? null
          : `${at} is not an object`;
      case 'null':
        return value === null ? null : `${at} is not null`;
      case 'date-time':
        return typeof value === 'string' && !Number.isNaN(Date.parse(value))
          ? null
          : `${at} is not a date-time string`;
      default:
        return typeof value === shape ? null : `${at} is not a ${shape}`;
    }
  }
  if ('oneOf' in shape) {
    const misses = shape.oneOf.map((s) => shapeMismatch(value, s, at));
    return misses.some((m) => m === null) ? null : misses.join(' and ');
  }
  if ('equals' in shape) {
    return JSON.stringify(value) === JSON.stringify(shape.equals)
      ? null
      : `${at} is ${JSON.stringify(value)}, not ${JSON.stringify(shape.equals)}`;
  }
  if ('arrayOf' in shape) {
    if (!Array.isArray(value)) return `${at} is not an array`;
    for (const [i, item] of value.entries()) {
      const miss = shapeMismatch(item, shape.arrayOf, `${at}[${i}]`);
      if (miss) return miss;
    }
    return null;
  }
  if ('mapOf' in shape) {
    const miss = shapeMismatch(value, 'object', at);
    if (miss) return miss;
    for (const [k, v] of Object.entries(value as object)) {
      const inner = shapeMismatch(v, shape.mapOf, `${at}[${JSON.stringify(k)}]`);
      if (inner) return inner;
    }
    return null;
  }
  const miss = shapeMismatch(value, 'object', at);
  if (miss) return miss;
  const record = value as Record<string, unknown>;
  for (const [key, fieldShape] of Object.entries(shape.fields)) {
    if (!(key in record)) return `${at}.${key} is missing`;
    const inner = shapeMismatch(record[key], fieldShape, `${at}.${key}`);
    if (inner) return inner;
  }
  return null;
}

/** `shape` with the run's names in place of `{user}` and the like (in `equals` values and field names). */
export function bindShape(shape: Shape, values: Record<string, string>): Shape {
  if (typeof shape === 'string') return shape;
  if ('oneOf' in shape) return { oneOf: shape.oneOf.map((s) => bindShape(s, values)) };
  if ('equals' in shape) return { equals: substituteDeep(shape.equals, values) };
  if ('arrayOf' in shape) return { arrayOf: bindShape(shape.arrayOf, values) };
  if ('mapOf' in shape) return { mapOf: bindShape(shape.mapOf, values) };
  return {
    fields: Object.fromEntries(
      Object.entries(shape.fields).map(([k, s]) => [substitute(k, values), bindShape(s, values)]),
    ),
  };
}
