# Prints the known answers of kat.rs. Run from a directory holding group14.hex
# (written by groups.py): python3 kat_vectors.py
# Independent known answers for crates/ssh-transport/src/kex/kat.rs,
# computed with Python's hashlib and the `cryptography` package.
import hashlib, struct
from cryptography.hazmat.primitives.asymmetric import x25519, ec, ed25519
from cryptography.hazmat.primitives import serialization as ser

def string(b): return struct.pack('>I', len(b)) + b
def mpint(n_bytes):
    b = n_bytes.lstrip(b'\0')
    if b and b[0] & 0x80: b = b'\0' + b
    return string(b)
def raw(pub): return pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
def unc(pub): return pub.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)

# RFC 7748 §6.1
a = bytes.fromhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
b = bytes.fromhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
A = x25519.X25519PrivateKey.from_private_bytes(a); B = x25519.X25519PrivateKey.from_private_bytes(b)
print('x25519 alice pub', raw(A.public_key()).hex())
print('x25519 bob pub', raw(B.public_key()).hex())
k = A.exchange(B.public_key()); print('x25519 shared', k.hex())

# ECDH with fixed scalars d = 0x11..11 (client) and 0x22..22 (server).
for curve, n, hashf in [(ec.SECP256R1(), 32, hashlib.sha256), (ec.SECP384R1(), 48, hashlib.sha384), (ec.SECP521R1(), 66, hashlib.sha512)]:
    dc = int.from_bytes(b'\x11' * n, 'big') >> (8 if n == 66 else 0)
    ds = int.from_bytes(b'\x22' * n, 'big') >> (8 if n == 66 else 0)
    C = ec.derive_private_key(dc, curve); S = ec.derive_private_key(ds, curve)
    z = C.exchange(ec.ECDH(), S.public_key())
    print(curve.name, 'dc', dc.to_bytes(n, 'big').hex())
    print(curve.name, 'ds', ds.to_bytes(n, 'big').hex())
    print(curve.name, 'Qc', unc(C.public_key()).hex())
    print(curve.name, 'Qs', unc(S.public_key()).hex())
    print(curve.name, 'z', z.hex())

# One complete curve25519-sha256 exchange: client = Alice, server = Bob,
# host key = RFC 8032 TEST 1 Ed25519 key.
seed = bytes.fromhex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
hk = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
K_S = string(b'ssh-ed25519') + string(raw(hk.public_key()))
V_C = b'SSH-2.0-rssh_test'; V_S = b'SSH-2.0-OpenSSH_9.2p1'
I_C = bytes([20]) + bytes(range(16)) + b'client kexinit'
I_S = bytes([20]) + bytes(range(16, 32)) + b'server kexinit'
Q_C = raw(A.public_key()); Q_S = raw(B.public_key())
K = mpint(k)
H = hashlib.sha256(string(V_C) + string(V_S) + string(I_C) + string(I_S) + string(K_S) + string(Q_C) + string(Q_S) + K).digest()
print('curve25519 H', H.hex())
sig = hk.sign(H)
print('curve25519 sig', (string(b'ssh-ed25519') + string(sig)).hex())
def derive(h, K, H, letter, sid, n):
    out = h(K + H + letter + sid).digest()
    while len(out) < n: out += h(K + H + out).digest()
    return out[:n]
for letter, n in [(b'A', 16), (b'C', 32), (b'E', 64), (b'F', 100)]:
    print('derive', letter.decode(), n, derive(hashlib.sha256, K, H, letter, H, n).hex())
# Key derivation with another session id (a re-key) and SHA-512.
print('derive512 B 80', derive(hashlib.sha512, K, H, b'B', b'\x01' * 32, 80).hex())

# diffie-hellman-group14-sha256 with fixed exponents, and a GEX hash with
# the same group and numbers.
p = int(open('group14.hex').read(), 16)
x = int.from_bytes(bytes([0x80]) + bytes(range(1, 64)), 'big')   # 512-bit client exponent
y = int.from_bytes(bytes([0xc0]) + bytes(range(100, 163)), 'big') # 512-bit server exponent
e = pow(2, x, p); f = pow(2, y, p); kk = pow(f, x, p)
tb = lambda v: v.to_bytes((v.bit_length() + 7) // 8, 'big')
print('dh x', tb(x).hex()); print('dh y', tb(y).hex())
print('dh e', tb(e).hex()); print('dh f', tb(f).hex()); print('dh k', tb(kk).hex())
Hdh = hashlib.sha256(string(V_C) + string(V_S) + string(I_C) + string(I_S) + string(K_S) + mpint(tb(e)) + mpint(tb(f)) + mpint(tb(kk))).digest()
print('dh14 H', Hdh.hex())
Hgex = hashlib.sha256(string(V_C) + string(V_S) + string(I_C) + string(I_S) + string(K_S) + struct.pack('>III', 2048, 3072, 8192) + mpint(tb(p)) + mpint(b'\x02') + mpint(tb(e)) + mpint(tb(f)) + mpint(tb(kk))).digest()
print('gex H', Hgex.hex())
