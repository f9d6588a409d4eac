// Named points where the fault-injection tests kill the process (SIGKILL, as a power cut or the
// OOM killer would): COLAR_FAILPOINT=name dies at the first pass through that point,
// COLAR_FAILPOINT=name@k at the k-th. Unset (always, outside those tests) it does nothing.

const spec = process.env.COLAR_FAILPOINT ?? '';
const [armedName, armedAt] = spec.split('@');
let passes = 0;

export function failpoint(name: string): void {
  if (name !== armedName) return;
  passes++;
  if (passes >= Number(armedAt ?? 1)) process.kill(process.pid, 'SIGKILL');
}
