// Starts and stops the fake providers (providers.mjs) from tests:
//
//   import { startFakeProviders } from '../fakes/start.mjs';
//   const fake = await startFakeProviders({ taskMs: 500 });
//   fake.env      // GEMINI_BASE_URL … and the *_API_KEY values it accepts
//   await fake.stats();   await fake.reset();   await fake.stop();
//
// Options (all optional): port (0: ephemeral), key, latencyMs,
// streamIntervalMs, taskMs, imageSize ("WxH"), imageBytes, videoFile.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'providers.mjs');

const FLAGS = {
    port: '--port', key: '--key', latencyMs: '--latency', streamIntervalMs: '--stream-interval',
    taskMs: '--task-ms', imageSize: '--image-size', imageBytes: '--image-bytes', videoFile: '--video-file',
};

// The environment a module needs to use the fake at url with key.
export function fakeEnv(url, key) {
    return {
        GEMINI_BASE_URL: url, ARK_BASE_URL: url, DASHSCOPE_BASE_URL: url,
        OPENAI_BASE_URL: `${url}/v1`, XAI_BASE_URL: `${url}/xai/v1`,
        GEMINI_API_KEY: key, ARK_API_KEY: key, DASHSCOPE_API_KEY: key,
        OPENAI_API_KEY: key, XAI_API_KEY: key,
    };
}

export function startFakeProviders(options = {}) {
    const args = [SCRIPT];
    for (const [k, v] of Object.entries(options)) {
        if (v === undefined) continue;
        if (!FLAGS[k]) throw new Error(`startFakeProviders: unknown option ${k}`);
        args.push(FLAGS[k], String(v));
    }
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`fake providers did not start in 10 s: ${stderr}`));
        }, 10000);
        child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`fake providers exited with ${code}: ${stderr}`));
        });
        child.stdout.on('data', (d) => {
            out += d;
            const nl = out.indexOf('\n');
            if (nl < 0) return;
            clearTimeout(timer);
            child.removeAllListeners('exit');
            const { port } = JSON.parse(out.slice(0, nl));
            const url = `http://127.0.0.1:${port}`;
            const key = options.key || 'fake-key';
            resolve({
                port, url, key, child,
                env: fakeEnv(url, key),
                async stats() {
                    return (await fetch(`${url}/_fake/stats`)).json();
                },
                async reset() {
                    await fetch(`${url}/_fake/reset`, { method: 'POST' });
                },
                stop() {
                    return new Promise((done) => {
                        if (child.exitCode !== null || child.signalCode !== null) return done();
                        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
                        child.once('exit', () => {
                            clearTimeout(kill);
                            done();
                        });
                        child.kill('SIGTERM');
                    });
                },
            });
        });
    });
}
