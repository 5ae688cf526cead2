#!/usr/bin/python3
"""A stand-in for Grafana Pyroscope's POST /ingest, strict about what cprofd sends.

Usage: pyroscope_receiver.py --log FILE [--port PORT] [--fail-with CODE]

Listens on 127.0.0.1:PORT (0: any free port). The first line on stdout is
the port, so a test can start it with port 0 and read where it went. Every
request is answered (200, or CODE with --fail-with) and logged as one JSON
line in FILE, flushed at once:

  {"method", "path", "query": {name: [values]}, "content_type", "format",
   "app", "labels": {host, target, service_name}, "from", "until",
   "sample_rate", "body" (folded text), "profile_len", "profile_crc32"
   (pprof: of the gzipped form field), "valid": bool, "errors": [...],
   "status"}

What valid means, per the request cprofd promises (src/daemon/push.c says
why pprof goes as a form without `format`):
  - POST /ingest, every query parameter present once and nothing else:
    name = APP.cpu{host=H,target=T,service_name=APP}, labels in that order,
    APP in [A-Za-z0-9_./-]+ and values free of ",{}=";
    from < until, decimal seconds; sampleRate a positive integer;
    spyName=cprof, units=samples, aggregationType=sum;
  - folded: format=folded, Content-Type text/plain, body lines "a;b;c N"
    (N a decimal count, frames non-empty), an empty body allowed;
  - pprof: no format, Content-Type multipart/form-data with exactly one
    field, `profile`, holding gzip data that inflates to a protobuf whose
    top-level fields all parse.
Only Debian's python3 standard library.
"""

import argparse
import email.parser
import email.policy
import gzip
import http.server
import json
import re
import sys
import threading
import urllib.parse
import zlib

NAME_RE = re.compile(r'^([A-Za-z0-9_./-]+)\.cpu\{host=([^,{}=]+),target=([^,{}=]+),'
                     r'service_name=([^,{}=]+)\}$')
FOLDED_LINE_RE = re.compile(r'^[^;\n]+(;[^;\n]+)* [0-9]+$')
COMMON = {'name', 'from', 'until', 'sampleRate', 'spyName', 'units', 'aggregationType'}


def protobuf_ok(data):
    """Walks the top-level fields: each key a valid wire type, each length in bounds."""
    i, n = 0, len(data)

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            if i >= n or shift > 63:
                raise ValueError('truncated varint')
            b = data[i]
            i += 1
            v |= (b & 0x7f) << shift
            if not b & 0x80:
                return v
            shift += 7

    try:
        while i < n:
            key = varint()
            wire = key & 7
            if key >> 3 == 0:
                return False
            if wire == 0:
                varint()
            elif wire == 1:
                i += 8
            elif wire == 2:
                length = varint()  # before i is read: varint() moves it
                i += length
            elif wire == 5:
                i += 4
            else:
                return False
            if i > n:
                return False
    except ValueError:
        return False
    return True


def check(handler, body):
    """Returns the log record for one request."""
    errors = []
    url = urllib.parse.urlsplit(handler.path)
    try:
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as e:
        query = {}
        errors.append(f'query does not parse: {e}')
    ctype = handler.headers.get('Content-Type', '')
    rec = {'method': handler.command, 'path': url.path, 'query': query,
           'content_type': ctype, 'errors': errors}

    if handler.command != 'POST':
        errors.append(f'method {handler.command}, not POST')
    if url.path != '/ingest':
        errors.append(f'path {url.path!r}, not /ingest')

    fmt = 'pprof' if 'format' not in query else query['format'][0]
    rec['format'] = fmt
    expected = COMMON | ({'format'} if fmt != 'pprof' else set())
    for k, v in query.items():
        if k not in expected:
            errors.append(f'unexpected parameter {k!r}')
        elif len(v) != 1:
            errors.append(f'parameter {k!r} given {len(v)} times')
    for k in sorted(expected - query.keys()):
        errors.append(f'missing parameter {k!r}')

    def one(k):
        v = query.get(k)
        return v[0] if v else None

    name = one('name')
    m = NAME_RE.match(name or '')
    if not m:
        errors.append(f'name {name!r} is not APP.cpu{{host=H,target=T,service_name=S}}')
    else:
        rec['app'] = m.group(1)
        rec['labels'] = {'host': m.group(2), 'target': m.group(3), 'service_name': m.group(4)}
        if m.group(4) != m.group(1):
            errors.append(f'service_name {m.group(4)!r} is not the app {m.group(1)!r}')
        for v in m.groups()[1:]:
            if v != v.strip():
                errors.append(f'label value {v!r} has spaces at an end')

    times = {}
    for k in ('from', 'until'):
        v = one(k)
        if v is None or not re.fullmatch(r'[0-9]+', v):
            errors.append(f'{k} {v!r} is not decimal UNIX seconds')
        else:
            times[k] = int(v)
            rec[k] = int(v)
    if len(times) == 2 and not times['from'] < times['until']:
        errors.append(f'from {times["from"]} is not before until {times["until"]}')
    rate = one('sampleRate')
    if rate is None or not re.fullmatch(r'[1-9][0-9]*', rate):
        errors.append(f'sampleRate {rate!r} is not a positive integer')
    else:
        rec['sample_rate'] = int(rate)
    for k, want in (('spyName', 'cprof'), ('units', 'samples'), ('aggregationType', 'sum')):
        if one(k) != want:
            errors.append(f'{k} {one(k)!r}, not {want!r}')

    if fmt == 'folded':
        if ctype.split(';')[0].strip() != 'text/plain':
            errors.append(f'folded body with Content-Type {ctype!r}')
        text = body.decode('utf-8', errors='surrogateescape')  # frames need not be UTF-8
        rec['body'] = body.decode('utf-8', errors='replace')
        lines = text.split('\n')
        if lines and lines[-1] == '':
            lines.pop()
        elif text:
            errors.append('folded body does not end with a newline')
        for no, line in enumerate(lines, 1):
            if not FOLDED_LINE_RE.match(line):
                errors.append(f'folded line {no} is not "a;b;c N": {line[:80]!r}')
                break
    elif fmt == 'pprof':
        check_pprof(ctype, body, rec, errors)
    else:
        errors.append(f'format {fmt!r} is neither folded nor absent (pprof as a form)')
    return rec


def check_pprof(ctype, body, rec, errors):
    if not ctype.startswith('multipart/form-data'):
        errors.append(f'pprof body with Content-Type {ctype!r}, not multipart/form-data')
        return
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + ctype.encode() + b'\r\n\r\n' + body)
    if not msg.is_multipart():
        errors.append('multipart body does not parse')
        return
    parts = list(msg.iter_parts())
    names = [p.get_param('name', header='content-disposition') for p in parts]
    if names != ['profile']:
        errors.append(f'form fields {names}, not just "profile"')
    for p in parts:
        if p.get_param('name', header='content-disposition') != 'profile':
            continue
        data = p.get_payload(decode=True) or b''
        rec['profile_len'] = len(data)
        rec['profile_crc32'] = zlib.crc32(data)
        if data[:2] != b'\x1f\x8b':
            errors.append('profile is not gzip data')
            return
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError) as e:
            errors.append(f'profile does not gunzip: {e}')
            return
        if not protobuf_ok(raw):
            errors.append('gunzipped profile is not a protobuf message')


class Handler(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length > 0 else b''
        rec = check(self, body)
        rec['valid'] = not rec['errors']
        status = self.server.fail_with or 200
        rec['status'] = status
        with self.server.log_lock:
            self.server.log.write(json.dumps(rec) + '\n')
            self.server.log.flush()
        answer = b'ok\n' if status < 300 else f'simulated failure {status}\n'.encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = handle_any
    do_GET = handle_any
    do_PUT = handle_any

    def log_message(self, format, *args):  # quiet: the JSON log says it all
        pass


def main():
    ap = argparse.ArgumentParser(description='a strict Pyroscope /ingest receiver for tests')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--log', required=True)
    ap.add_argument('--fail-with', type=int, default=0, metavar='CODE')
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    server.daemon_threads = True
    server.fail_with = args.fail_with
    server.log = open(args.log, 'a', encoding='utf-8')
    server.log_lock = threading.Lock()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
