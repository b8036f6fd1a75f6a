// Child processes for the browser test: each in its own process group, with its output
// kept, stopped (SIGTERM, then SIGKILL) by stopAll() whatever happened.
import { spawn, execFile } from 'node:child_process';

const started = new Set();

export class Child {
  constructor(name, argv, env) {
    this.name = name;
    this.out = '';
    this.err = '';
    this.waiters = [];
    this.proc = spawn(argv[0], argv.slice(1), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(this);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve({ code, signal });
      });
      this.proc.on('error', (e) => {
        this.err += `${e.message}\n`;
        this.exitCode = -1;
        resolve({ code: -1, signal: null });
      });
    });
    this.proc.stdout.on('data', (d) => {
      this.out += d;
      this.poke();
    });
    this.proc.stderr.on('data', (d) => {
      this.err += d;
    });
  }

  poke() {
    this.waiters = this.waiters.filter((w) => !w());
  }

  // The first line of stdout matching `re` (a RegExp), within `ms`.
  waitForLine(re, ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no line matching ${re} within ${ms} ms\nstdout:\n${tail(this.out)}\nstderr:\n${tail(this.err)}`));
      }, ms);
      const check = () => {
        const line = this.out.split('\n').find((l) => re.test(l));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(line);
          return true;
        }
        if (this.exitCode !== undefined) {
          clearTimeout(timer);
          reject(new Error(`${this.name} exited (${this.exitCode ?? this.signal}) before printing ${re}\nstderr:\n${tail(this.err)}`));
          return true;
        }
        return false;
      };
      if (!check()) {
        this.waiters.push(check);
        this.exited.then(() => this.poke());
      }
    });
  }

  async stop(ms = 5000) {
    if (this.exitCode === undefined) {
      signalGroup(this.proc.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.proc.pid, 'SIGKILL'), ms);
      await this.exited;
      clearTimeout(timer);
    }
    // Whatever the group leader left behind.
    signalGroup(this.proc.pid, 'SIGKILL');
    started.delete(this);
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

export function tail(text, lines = 30) {
  return text.split('\n').slice(-lines).join('\n');
}

export async function stopAll() {
  await Promise.all([...started].map((c) => c.stop()));
}

// Last resort, synchronous (for process.on('exit')): SIGKILL every group still running.
export function killAllNow() {
  for (const c of started) signalGroup(c.proc.pid, 'SIGKILL');
}

// Runs a program to completion (bounded by `ms`); resolves { code, out, err }.
export function run(argv, env, ms = 30000) {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env, timeout: ms, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (error, out, err) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, out, err });
    });
  });
}
