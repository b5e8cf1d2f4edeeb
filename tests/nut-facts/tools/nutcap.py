#!/usr/bin/env python3
"""Raw NUT protocol capture: python3 nutcap.py UPSNAME > file"""
import socket, sys, shlex
HOST, PORT = '127.0.0.1', 13493
class C:
    def __init__(s):
        s.s = socket.create_connection((HOST, PORT), timeout=5); s.f = s.s.makefile('rb')
    def line(s): return s.f.readline().decode('utf-8', 'replace').rstrip('\n')
    def cmd(s, c):
        s.s.sendall((c + '\n').encode())
        first = s.line()
        if not first.startswith('BEGIN LIST'):
            return [first]
        out = [first]
        while True:
            l = s.line(); out.append(l)
            if l.startswith('END LIST') or l == '': break
        return out
def main():
    ups = sys.argv[1]; c = C(); p = print
    for q in ['LIST VAR %s', 'LIST RW %s', 'LIST CMD %s', 'GET NUMLOGINS %s', 'GET UPSDESC %s']:
        q = q % ups; p('>>> ' + q)
        for l in c.cmd(q): p(l)
    vars_ = []
    for l in c.cmd('LIST VAR ' + ups):
        if l.startswith('VAR '):
            vars_.append(shlex.split(l)[2])
    p('>>> GET TYPE / GET DESC for every variable')
    for v in vars_:
        for l in c.cmd('GET TYPE %s %s' % (ups, v)): p(l)
    for v in vars_:
        for l in c.cmd('GET DESC %s %s' % (ups, v)): p(l)
    rw = [shlex.split(l)[2] for l in c.cmd('LIST RW ' + ups) if l.startswith('RW ')]
    for v in rw:
        for q in ['LIST ENUM %s %s', 'LIST RANGE %s %s']:
            q = q % (ups, v); p('>>> ' + q)
            for l in c.cmd(q): p(l)
    cmds = [shlex.split(l)[2] for l in c.cmd('LIST CMD ' + ups) if l.startswith('CMD ')]
    for v in cmds:
        for l in c.cmd('GET CMDDESC %s %s' % (ups, v)): p(l)
if __name__ == '__main__': main()
