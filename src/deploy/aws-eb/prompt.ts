import { createInterface } from 'node:readline';

/** Questions asked on a terminal; without one (`interactive` false) nothing is asked and defaults apply. */
export interface Prompt {
  readonly interactive: boolean;
  /** Asks `question`; an empty answer is `fallback`. */
  ask(question: string, fallback: string): Promise<string>;
  /** Asks for a secret without echoing it; '' when none is given. */
  askSecret(question: string): Promise<string>;
}

/** A prompt on stdin/stdout, interactive only when stdin is a TTY. */
export function terminalPrompt(input = process.stdin, output = process.stdout): Prompt {
  const interactive = Boolean(input.isTTY);
  const question = (text: string, mute: boolean) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input, output, terminal: interactive });
      if (mute) {
        // Echo nothing of what is typed (the question itself is written before muting).
        const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
        output.write(text);
        (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
        rl.question('', (answer) => {
          (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = write;
          output.write('\n');
          rl.close();
          resolve(answer.trim());
        });
        return;
      }
      rl.question(text, (answer) => {
        rl.close();
        resolve(answer.trim());
      });
    });
  return {
    interactive,
    async ask(text, fallback) {
      if (!interactive) return fallback;
      return (await question(`${text} [${fallback}]: `, false)) || fallback;
    },
    async askSecret(text) {
      if (!interactive) return '';
      return question(`${text}: `, true);
    },
  };
}

/** A prompt that never asks (no terminal, or `--yes`). */
export const noPrompt: Prompt = {
  interactive: false,
  ask: async (_question, fallback) => fallback,
  askSecret: async () => '',
};
