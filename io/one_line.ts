// Error messages stay on one line (the CLI prints `colar-wgpu: <message>`). Imports nothing,
// so code that runs in a page can use it too.

/** `message` on one line: a parser's message may quote the file's content, line breaks and all. */
export function oneLine(message: string): string {
  return message.replace(/\r\n|\r|\n/g, '\\n');
}
