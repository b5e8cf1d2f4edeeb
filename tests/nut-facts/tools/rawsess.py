#!/usr/bin/env python3
"""Send protocol lines one at a time, print each request and response lines with timestamps.
usage: rawsess.py 'CMD1' 'CMD2' ...   ('SLEEP n' pauses; GET TRACKING $ID uses last TRACKING id)"""
import socket, sys, time, re
s = socket.create_connection(('127.0.0.1', 13493), timeout=5); f = s.makefile('rb')
last = None
for c in sys.argv[1:]:
    if c.startswith('SLEEP '):
        time.sleep(float(c.split()[1])); print('# slept', c.split()[1]); continue
    if last: c = c.replace('$ID', last)
    s.sendall((c + '\n').encode()); print('>>> ' + c)
    l = f.readline().decode().rstrip('\n'); print(l)
    m = re.search(r'TRACKING ([0-9a-fA-F-]+)', l)
    if m and l.startswith('OK'): last = m.group(1)
    if l.startswith('BEGIN LIST'):
        while True:
            l = f.readline().decode().rstrip('\n'); print(l)
            if l.startswith('END LIST'): break
