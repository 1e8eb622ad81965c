/**
 * Live progress: a cli-progress bar on a terminal (redrawn in place, on
 * stderr so that stdout keeps the report), plain lines every few seconds
 * otherwise (CI logs, pipes, files).
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** A new stage with `total` steps (connections, seconds, ...). */
  stage(name: string, total: number): void;
  /** Where the stage is, with a short line of live figures. */
  update(value: number, info?: string): void;
  /** Ends the stage with one line saying how it went. */
  done(summary: string): void;
  /** A line of its own, outside any stage. */
  line(text: string): void;
  /** Ends any bar (on exit or interruption). */
  stop(): void;
}

/** A bar on a terminal unless `plain`; lines otherwise. */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, plain = !stream.isTTY): Progress {
  return plain ? new Lines(stream) : new Bar(stream);
}

class Bar implements Progress {
  private bar?: SingleBar;
  private name = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  stage(name: string, total: number): void {
    this.stop();
    this.name = name;
    this.bar = new SingleBar({
      stream: this.stream,
      format: `${name.padEnd(9)} {bar} {value}/{total} {info}`,
      barsize: 24,
      hideCursor: true,
      // Redraws at most 5 times a second: the bar must not cost the generator.
      fps: 5,
    });
    this.bar.start(Math.max(1, total), 0, { info: '' });
  }

  update(value: number, info = ''): void {
    this.bar?.update(value, { info });
  }

  done(summary: string): void {
    this.stop();
    this.stream.write(`${this.name.padEnd(9)} ${summary}\n`);
  }

  line(text: string): void {
    this.stop();
    this.stream.write(`${text}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class Lines implements Progress {
  private name = '';
  private total = 0;
  private lastAt = 0;

  constructor(private readonly stream: NodeJS.WriteStream | NodeJS.WritableStream) {}

  stage(name: string, total: number): void {
    this.name = name;
    this.total = total;
    this.lastAt = Date.now();
  }

  update(value: number, info = ''): void {
    const now = Date.now();
    if (now - this.lastAt < 2000) return;
    this.lastAt = now;
    this.stream.write(`${this.name.padEnd(9)} ${value}/${this.total} ${info}\n`);
  }

  done(summary: string): void {
    this.stream.write(`${this.name.padEnd(9)} ${summary}\n`);
  }

  line(text: string): void {
    this.stream.write(`${text}\n`);
  }

  stop(): void {}
}
