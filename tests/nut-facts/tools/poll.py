import socket, sys, time
ups, dur, step = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(('127.0.0.1', 13493)); f = s.makefile('rb')
t0 = time.time(); prev = None
while time.time() - t0 < dur:
    out = []
    for v in ('ups.status', 'battery.charge'):
        s.sendall(f'GET VAR {ups} {v}\n'.encode()); out.append(f.readline().decode().strip())
    cur = ' | '.join(out)
    if cur != prev:
        print(f'{time.time()-t0:7.2f}s {time.strftime("%T")} {cur}', flush=True); prev = cur
    time.sleep(step)
