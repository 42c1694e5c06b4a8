/**
 * "Is this a notebook?": nbformat 4 JSON, checked structurally with zod (the fields Jupyter needs to
 * open it), and bounded in size before it is parsed.
 */
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { SifuError } from '../errors.js';

const multiline = z.union([z.string(), z.array(z.string())]);
const metadata = z.record(z.string(), z.unknown());

const cell = z.discriminatedUnion('cell_type', [
  z.looseObject({
    cell_type: z.literal('code'),
    source: multiline,
    metadata,
    outputs: z.array(z.looseObject({ output_type: z.string() })),
    execution_count: z.number().int().nullable(),
  }),
  z.looseObject({ cell_type: z.literal('markdown'), source: multiline, metadata }),
  z.looseObject({ cell_type: z.literal('raw'), source: multiline, metadata }),
]);

export const notebookSchema = z.looseObject({
  nbformat: z.literal(4),
  nbformat_minor: z.number().int().min(0),
  metadata,
  cells: z.array(cell),
});

export type Notebook = z.output<typeof notebookSchema>;

/**
 * Parses and validates a notebook from text or bytes; returns its canonical text (what gets stored and
 * copied). SIFU_ERR_NOTEBOOK_TOO_LARGE over `maxBytes`, SIFU_ERR_INVALID_NOTEBOOK otherwise.
 */
export function parseNotebook(
  input: string | Buffer,
  maxBytes: number,
): { text: string; notebook: Notebook } {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (bytes > maxBytes) {
    throw new SifuError('SIFU_ERR_NOTEBOOK_TOO_LARGE', `notebooks are at most ${maxBytes} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof input === 'string' ? input : input.toString('utf8'));
  } catch {
    throw new SifuError('SIFU_ERR_INVALID_NOTEBOOK', 'the notebook is not valid JSON');
  }
  return validateNotebook(value, maxBytes);
}

/** Validates an already-parsed notebook (an API body); returns its canonical text. */
export function validateNotebook(value: unknown, maxBytes: number): { text: string; notebook: Notebook } {
  const parsed = notebookSchema.safeParse(value);
  if (!parsed.success) {
    throw new SifuError(
      'SIFU_ERR_INVALID_NOTEBOOK',
      `not an nbformat 4 notebook: ${formatIssues(parsed.error.issues.slice(0, 3), () => '')}`,
    );
  }
  const text = `${JSON.stringify(value, null, 1)}\n`;
  if (Buffer.byteLength(text) > maxBytes) {
    throw new SifuError('SIFU_ERR_NOTEBOOK_TOO_LARGE', `notebooks are at most ${maxBytes} bytes`);
  }
  return { text, notebook: parsed.data };
}
