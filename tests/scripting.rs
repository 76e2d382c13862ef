//! Lua scripting through the real protocol: a corpus of scripts run on
//! memkv and on real Redis 7.0 and compared reply by reply, byte for byte,
//! in RESP2 and RESP3 (type conversions both ways, error forms, sandbox
//! rules, the redis.* API), exact expectations for the core forms (so the
//! tests also fail without Redis installed), the script cache (EVALSHA,
//! SCRIPT LOAD / EXISTS / FLUSH), redis-py-style Lock through the `redis`
//! crate, rollback under `multi-rollback yes`, and AOF effects loaded back
//! by memkv and by real Redis.

mod common;

use common::script::{Cmd, differential, render, send_argv as send, until_loaded};
use common::{Raw, Server, encode, temp_dir};

/// Scripts whose replies must equal Redis's in both protocols.
const CORPUS: &[Cmd] = &[
    // First: a fresh server's random sequence (rand.c's initial state).
    &[
        "EVAL",
        "return {tostring(math.random()), math.random(1000)}",
        "0",
    ],
    // Lua -> Redis conversions.
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -3.99", "0"],
    &["EVAL", "return 'str'", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {}", "0"],
    &["EVAL", "return {1, 2, 3.5, 'x', nil, 5}", "0"],
    &["EVAL", "return {1, {true, false, {'deep'}}, 'z'}", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {ok='multi\\r\\nline'}", "0"],
    &["EVAL", "return {err='My Error'}", "0"],
    &["EVAL", "return {err='ERR custom'}", "0"],
    &["EVAL", "return {1, {err='nested'}, 3}", "0"],
    &["EVAL", "return {double=3.5}", "0"],
    &["EVAL", "return {double=1/0}", "0"],
    &["EVAL", "return {big_number='12345678901234567890'}", "0"],
    &["EVAL", "return {map={a=1}}", "0"],
    &["EVAL", "return {set={x=true}}", "0"],
    &[
        "EVAL",
        "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #ARGV}",
        "2",
        "k1",
        "k2",
        "a1",
        "a2",
    ],
    &["EVAL", "return #KEYS + #ARGV", "0"],
    // Redis -> Lua conversions (RESP2 mode).
    &["SET", "s", "foo"],
    &["RPUSH", "l", "a", "b", "c"],
    &["HSET", "h", "f", "v"],
    &["SADD", "st", "m"],
    &["ZADD", "z", "1.5", "m"],
    &["EVAL", "return redis.call('get', 's')", "0"],
    &["EVAL", "return redis.call('get', 'nokey')", "0"],
    &["EVAL", "return type(redis.call('get', 'nokey'))", "0"],
    &["EVAL", "return redis.call('lrange', 'l', 0, -1)", "0"],
    &["EVAL", "return redis.call('set', 'x', 1)", "0"],
    &["EVAL", "return redis.call('set', 'x', 1)['ok']", "0"],
    &["EVAL", "return redis.call('incrby', 'x', 2.5)", "0"],
    &["EVAL", "return redis.call('set', 'big', 1e17, 'GET')", "0"],
    &[
        "EVAL",
        "return redis.call('getset', 'big', 123456789012345)",
        "0",
    ],
    &["EVAL", "return redis.call('get', 'big')", "0"],
    &["EVAL", "return redis.call('incr', 'x')", "0"],
    &["EVAL", "return type(redis.call('incr', 'x'))", "0"],
    &["EVAL", "return redis.call('hgetall', 'h')", "0"],
    &["EVAL", "return redis.call('zscore', 'z', 'm')", "0"],
    &["EVAL", "return redis.call('ping')", "0"],
    &["EVAL", "return redis.pcall('incr', 's')", "0"],
    &["EVAL", "return redis.pcall('incr', 's')['err']", "0"],
    &["EVAL", "return redis.pcall('lpush', 's', 'x')", "0"],
    &[
        "EVAL",
        "local t = redis.pcall('nosuchcommand') return t.err",
        "0",
    ],
    // Redis -> Lua conversions (RESP3 mode).
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('hgetall', 'h')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('hgetall', 'h')['map']['f']",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('smembers', 'st')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('zscore', 'z', 'm')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('zscore', 'z', 'm')['double']",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('get', 'nokey')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return type(redis.call('get', 'nokey'))",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('lrange', 'l', 0, -1)",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3) return redis.call('exists', 's')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(2) return redis.call('hgetall', 'h')",
        "0",
    ],
    // Error forms.
    &["EVAL", "return redis.call('incr', 's')", "0"],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.call({})", "0"],
    &["EVAL", "return redis.call('multi')", "0"],
    &["EVAL", "return redis.call('eval', 'return 1', '0')", "0"],
    &["EVAL", "redis.call('lpush', 's', 'x') return 1", "0"],
    &[
        "EVAL",
        "local x = 1\nlocal y = 2\nreturn redis.call('incr', 's')",
        "0",
    ],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "error({err='X boom'})", "0"],
    &["EVAL", "error('no position', 0)", "0"],
    &["EVAL", "local t = nil; return t.x", "0"],
    &["EVAL", "return 1 + {}", "0"],
    &["EVAL", "syntax error here", "0"],
    &["EVAL", "return +", "0"],
    &["EVAL", "return redis.error_reply('bad')", "0"],
    &["EVAL", "return redis.error_reply('-CODE with code')", "0"],
    &["EVAL", "return redis.error_reply('MY bad')", "0"],
    &["EVAL", "return redis.error_reply(1)", "0"],
    &["EVAL", "return redis.status_reply('fine')", "0"],
    &["EVAL", "return redis.status_reply()", "0"],
    &["EVAL", "return 1", "-1"],
    &["EVAL", "return 1", "x"],
    &["EVAL", "return 1", "3", "a"],
    &["EVALSHA", "0123456789012345678901234567890123456789", "0"],
    &["EVALSHA", "abc", "0"],
    // Sandbox.
    &["EVAL", "a = 1", "0"],
    &["EVAL", "return a", "0"],
    &["EVAL", "return loadfile", "0"],
    &["EVAL", "return dofile", "0"],
    &["EVAL", "return print", "0"],
    &["EVAL", "return type(os)", "0"],
    &["EVAL", "string.foo = 1", "0"],
    &["EVAL", "redis.call = 1", "0"],
    &["EVAL", "math.pi = 3", "0"],
    &["EVAL", "rawset(_G, 'x', 1)", "0"],
    &["EVAL", "KEYS = 1", "0"],
    &["EVAL", "getmetatable('').__index = nil return 1", "0"],
    &["EVAL", "getmetatable('').__index.upper = nil return 1", "0"],
    &["EVAL", "return ('x'):upper()", "0"],
    &["EVAL", "error(nil)", "0"],
    &["EVAL", "setmetatable(string, {})", "0"],
    &["EVAL", "table.insert(KEYS, 'x') return KEYS", "1", "a"],
    &["EVAL", "return rawget(string, 'upper') == nil", "0"],
    &[
        "EVAL",
        "local n = 0 for k, v in pairs(string) do n = n + 1 end return n",
        "0",
    ],
    &[
        "EVAL",
        "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
        "0",
    ],
    &[
        "EVAL",
        "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t",
        "0",
    ],
    &["EVAL", "return next(math) ~= nil", "0"],
    &["EVAL", "return type(_G)", "0"],
    &["EVAL", "return _G.redis == redis", "0"],
    &["EVAL", "_G.x = 1", "0"],
    &["EVAL", "return loadstring('return 1 + 1')()", "0"],
    &["EVAL", "return loadstring('y = 1')()", "0"],
    &["EVAL", "error(true)", "0"],
    &["EVAL", "local t = {} t[1] = t return #t", "0"],
    &[
        "EVAL",
        "local co = coroutine.create(function() return redis.call('ping') end) return {coroutine.resume(co)}",
        "0",
    ],
    &[
        "EVAL",
        "local function f(n) return f(n + 1) + 1 end return f(1)",
        "0",
    ],
    &["EVAL", "local t = {} t.x = 1 return t.x", "0"],
    &["EVAL", "local function f() return 7 end return f()", "0"],
    &["EVAL", "return type(loadstring)", "0"],
    &["EVAL", "return pcall(error, 'x')", "0"],
    &[
        "EVAL",
        "return {pcall(function() error({err='t'}) end)}",
        "0",
    ],
    &["EVAL", "return {pcall(redis.call, 'incr', 's')}", "0"],
    &[
        "EVAL",
        "local ok, e = pcall(redis.call, 'incr', 's') return e.err",
        "0",
    ],
    &["EVAL", "return tostring(1e100)", "0"],
    &["EVAL", "return string.format('%5.2f', 3.14159)", "0"],
    &["EVAL", "return table.concat({'a','b'}, '-')", "0"],
    // The redis library.
    &["EVAL", "return redis.sha1hex('')", "0"],
    &["EVAL", "return redis.sha1hex('abc')", "0"],
    &["EVAL", "return redis.sha1hex(12)", "0"],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.REDIS_VERSION", "0"],
    &["EVAL", "return redis.REDIS_VERSION_NUM", "0"],
    &[
        "EVAL",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "0",
    ],
    &[
        "EVAL",
        "redis.log(redis.LOG_WARNING, 'from a script') return 1",
        "0",
    ],
    &["EVAL", "redis.log(redis.LOG_WARNING) return 1", "0"],
    &["EVAL", "redis.log('x', 'y') return 1", "0"],
    &["EVAL", "redis.log(9, 'y') return 1", "0"],
    &["EVAL", "redis.setresp(4)", "0"],
    &["EVAL", "redis.setresp()", "0"],
    &["EVAL", "return redis.replicate_commands()", "0"],
    &[
        "EVAL",
        "return {redis.acl_check_cmd('get', 'k'), redis.acl_check_cmd('config', 'get')}",
        "0",
    ],
    &["EVAL", "return redis.acl_check_cmd('nosuch')", "0"],
    &["EVAL", "return redis.acl_check_cmd('config', 'nosub')", "0"],
    &["EVAL", "return redis.acl_check_cmd()", "0"],
    &["EVAL", "return redis.acl_check_cmd({})", "0"],
    &["EVAL", "redis.set_repl(redis.REPL_ALL) return 1", "0"],
    &["EVAL", "redis.set_repl(99) return 1", "0"],
    &[
        "EVAL",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_ALL}",
        "0",
    ],
    &[
        "EVAL",
        "math.randomseed(0) return {tostring(math.random()), math.random(100), math.random(5, 10)}",
        "0",
    ],
    &[
        "EVAL",
        "math.randomseed(42) return tostring(math.random())",
        "0",
    ],
    &["EVAL", "return math.random(0)", "0"],
    &["EVAL", "return math.random(3, 1)", "0"],
    &["EVAL", "return math.random(1, 2, 3)", "0"],
    &["EVAL", "redis.log(1) return 1", "0"],
    &["EVAL", "redis.set_repl() return 1", "0"],
    &["EVAL", "redis.setresp('x') return 1", "0"],
    // bit.
    &[
        "EVAL",
        "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.bnot(0), bit.band(0xff, 0x0f, 0x3)}",
        "0",
    ],
    &[
        "EVAL",
        "return {bit.bor(1, 2, 4), bit.bxor(5, 3), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4)}",
        "0",
    ],
    &[
        "EVAL",
        "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678)}",
        "0",
    ],
    &[
        "EVAL",
        "return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234, 2), bit.tohex('10')}",
        "0",
    ],
    &["EVAL", "return bit.band()", "0"],
    &["EVAL", "return bit.band('x')", "0"],
    &["EVAL", "bit.foo = 1", "0"],
    &["EVAL", "return redis.call('blpop', 'emptylist', 0)", "0"],
    &[
        "EVAL",
        "redis.call('rpush', 'bl', 'x') return redis.call('blpop', 'bl', 0)",
        "0",
    ],
    // cjson.
    &[
        "EVAL",
        "return cjson.encode({1, 2, 'three', true, false})",
        "0",
    ],
    &["EVAL", "return cjson.encode({a = 1})", "0"],
    &["EVAL", "return cjson.encode({})", "0"],
    &[
        "EVAL",
        r#"return cjson.encode('q\"uo/te\\ \n\t\1\127')"#,
        "0",
    ],
    &[
        "EVAL",
        "return cjson.encode({1.5, 0.1, 1e20, -0.000001, 123456789012345})",
        "0",
    ],
    &["EVAL", "return cjson.encode({[1] = 'a', [3] = 'c'})", "0"],
    &["EVAL", "return cjson.encode({[1] = 'a', [30] = 'c'})", "0"],
    &[
        "EVAL",
        "return cjson.encode({nested = {deep = {1, {x = 'y'}}}})",
        "0",
    ],
    &["EVAL", "return cjson.encode(cjson.null)", "0"],
    &["EVAL", "return cjson.encode(1/0)", "0"],
    &["EVAL", "return cjson.encode(function() end)", "0"],
    &["EVAL", "return cjson.encode({[true] = 1})", "0"],
    &["EVAL", "return cjson.encode()", "0"],
    &[
        "EVAL",
        "local t = cjson.decode('[1, 2.5, \"x\", true, null, {\"k\": [\"v\"]}]') return {t[1], t[2], t[3], t[4], t[5] == cjson.null, t[6].k[1]}",
        "0",
    ],
    &[
        "EVAL",
        "return cjson.decode('\"\\u00e9\\ud83d\\ude00\\n\"')",
        "0",
    ],
    &[
        "EVAL",
        "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}]}'))",
        "0",
    ],
    &["EVAL", "return cjson.decode('[1, 2')", "0"],
    &["EVAL", "return cjson.decode('{\"a\" 1}')", "0"],
    &["EVAL", "return cjson.decode('nope')", "0"],
    &["EVAL", "return cjson.decode('[1] x')", "0"],
    &["EVAL", "return cjson.decode('')", "0"],
    &[
        "EVAL",
        "return cjson.decode(ARGV[1]).name",
        "0",
        "{\"name\":\"memkv\"}",
    ],
    &["EVAL", "cjson.encode = nil", "0"],
    // cmsgpack.
    &[
        "EVAL",
        "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967296, -32, -33, -129, -32769, -2147483649)",
        "0",
    ],
    &[
        "EVAL",
        "return cmsgpack.pack(1.5, 0.1, 1/0, true, false, nil, 'short', string.rep('x', 40), string.rep('y', 300))",
        "0",
    ],
    &[
        "EVAL",
        "return cmsgpack.pack({1, 2, 3}, {a = 1}, {}, {[2] = 'x'}, {1, {2, {3}}})",
        "0",
    ],
    &[
        "EVAL",
        "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
        "0",
    ],
    &[
        "EVAL",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, true))}",
        "0",
    ],
    &[
        "EVAL",
        "local t = cmsgpack.unpack(cmsgpack.pack({k = 'v', n = 1.25})) return {t.k, tostring(t.n)}",
        "0",
    ],
    &[
        "EVAL",
        "local s = cmsgpack.pack(10, 20, 30) return {cmsgpack.unpack_one(s, 0)}",
        "0",
    ],
    &[
        "EVAL",
        "local s = cmsgpack.pack(10, 20, 30) return {cmsgpack.unpack_one(s, 2)}",
        "0",
    ],
    &[
        "EVAL",
        "local s = cmsgpack.pack(10, 20, 30) return {cmsgpack.unpack_limit(s, 2)}",
        "0",
    ],
    &["EVAL", "return cmsgpack.unpack('\\146\\1')", "0"],
    &["EVAL", "return cmsgpack.unpack('\\193')", "0"],
    &["EVAL", "return cmsgpack.pack()", "0"],
    &[
        "EVAL",
        "return cmsgpack.unpack(ARGV[1])",
        "0",
        "\u{92}\u{01}\u{02}",
    ],
    // struct.
    &[
        "EVAL",
        "return struct.pack('>I2<i4bBhHlLc3sfd', 258, -2, -1, 255, -3, 65535, -4, 5, 'abcdef', 'zs', 1.5, 0.1)",
        "0",
    ],
    &[
        "EVAL",
        "return {struct.unpack('>I2<i4bB', struct.pack('>I2<i4bB', 258, -2, -1, 255))}",
        "0",
    ],
    &[
        "EVAL",
        "return {struct.unpack('c3s', 'abcdef\\0rest')}",
        "0",
    ],
    &["EVAL", "return {struct.unpack('Bc0', '\\3abcd')}", "0"],
    &[
        "EVAL",
        "return {struct.unpack('i', struct.pack('i', 7) .. struct.pack('i', 9), 5)}",
        "0",
    ],
    &[
        "EVAL",
        "return {struct.size('>iIhbd'), struct.size('c5x')}",
        "0",
    ],
    &["EVAL", "return struct.pack('!4bi', 1, 2)", "0"],
    &["EVAL", "return struct.pack('q', 1)", "0"],
    &["EVAL", "return struct.pack('i40', 1)", "0"],
    &["EVAL", "return struct.pack('i')", "0"],
    &["EVAL", "return struct.pack('c5', 'ab')", "0"],
    &["EVAL", "return struct.unpack('i', 'ab')", "0"],
    &["EVAL", "return struct.unpack('s', 'abc')", "0"],
    &["EVAL", "return struct.size('s')", "0"],
    &["EVAL", "return struct.size('c99999999999')", "0"],
    &["EVAL", "return struct.unpack('c2147483647', 'ab')", "0"],
    &["EVAL", "return struct.unpack('Bc0', '\\255ab')", "0"],
    &[
        "EVAL",
        "return cmsgpack.unpack('\\221\\255\\255\\255\\255')",
        "0",
    ],
    &[
        "EVAL",
        "return cmsgpack.unpack('\\219\\255\\255\\255\\255ab')",
        "0",
    ],
    // Shebang.
    &["EVAL", "#!lua\nreturn 1", "0"],
    &[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('get', 's')",
        "0",
    ],
    &[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('set', 's', 'x')",
        "0",
    ],
    &[
        "EVAL",
        "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster\nreturn 2",
        "0",
    ],
    &["EVAL", "#!lua flags=foo\nreturn 1", "0"],
    &["EVAL", "#!lua name=x\nreturn 1", "0"],
    &["EVAL", "#!py\nreturn 1", "0"],
    &["EVAL_RO", "return redis.call('get', 's')", "0"],
    &["EVAL_RO", "return redis.call('set', 's', 'y')", "0"],
    &["EVAL_RO", "#!lua\nreturn 1", "0"],
    &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
    &[
        "EVAL_RO",
        "#!lua flags=no-writes\nreturn redis.call('set', 's', 'y')",
        "0",
    ],
    // Cache.
    &["SCRIPT", "LOAD", "return 'loaded'"],
    &["EVALSHA", "a9e0d1c9cfd4b5c8e1be9be5e64c0f86e14fa6e0", "0"],
    &[
        "SCRIPT",
        "EXISTS",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "0000000000000000000000000000000000000000",
    ],
    &["EVAL", "return 1", "0"],
    &[
        "SCRIPT",
        "EXISTS",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB",
    ],
    &["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    &[
        "EVALSHA_RO",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "0",
    ],
    &["SCRIPT", "LOAD", "return +"],
    &["SCRIPT", "FLUSH", "BAD"],
    &["SCRIPT", "FLUSH", "SYNC", "ASYNC"],
    &["SCRIPT", "FLUSH", "ASYNC"],
    &[
        "SCRIPT",
        "EXISTS",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
    ],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "KILL", "x"],
    &["SCRIPT", "NOSUB"],
    &["SCRIPT", "HELP"],
    &["EVAL", "return 1"],
    // Writes through scripts land.
    &[
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
        "1",
        "w",
        "val",
    ],
    &["GET", "w"],
    &[
        "EVAL",
        "redis.call('select', 1) redis.call('set', 'in1', 'x') return 1",
        "0",
    ],
    &["EXISTS", "in1"],
    &["SELECT", "1"],
    &["GET", "in1"],
    // Library errors (luaL_error) caught by pcall are plain strings.
    &["EVAL", "return {pcall(cjson.decode, '[')}", "0"],
    &[
        "EVAL",
        "return {pcall(function() return cjson.decode('[') end)}",
        "0",
    ],
    &["EVAL", "return {pcall(math.random, 1, 2, 3)}", "0"],
    &[
        "EVAL",
        "return {pcall(function() return bit.tohex({}) end)}",
        "0",
    ],
    &["EVAL", "return {pcall(redis.sha1hex)}", "0"],
    // A large argv and reply through redis.call, then small ones (the
    // reused buffers are dropped past 64 KiB, not reused stale).
    &[
        "EVAL",
        "redis.call('set', 'big', string.rep('x', 200000)) \
         return {#redis.call('get', 'big'), redis.call('strlen', 'big'), redis.call('get', 'in1')}",
        "0",
    ],
];

#[test]
fn corpus_matches_redis_resp2() {
    differential(false, CORPUS);
}

#[test]
fn corpus_matches_redis_resp3() {
    differential(true, CORPUS);
}

/// Expectations that hold without a Redis to compare with.
#[test]
fn core_replies_exact() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let check = |r: &mut Raw, argv: Cmd, want: &str| {
        assert_eq!(send(r, argv), want, "{argv:?}");
    };
    check(
        &mut r,
        &["EVAL", "return {1, 'a', {true, false}, 3.7}", "0"],
        r#"[:1, "a", [:1, $-1], :3]"#,
    );
    check(&mut r, &["SET", "s", "v"], "+OK");
    check(
        &mut r,
        &["EVAL", "return redis.call('incr',KEYS[1])", "1", "s"],
        "-ERR value is not an integer or out of range script: 6f5ade10a69975e903c6d07b10ea44c6382381a5, on @user_script:1.",
    );
    check(
        &mut r,
        &["EVAL", "a=1", "0"],
        "-ERR user_script:1: Attempt to modify a readonly table script: 86eda770a6060824b090dd4df091e3bd4121279c, on @user_script:1.",
    );
    check(
        &mut r,
        &["EVAL", "return a", "0"],
        "-ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: bbfcd1ececc90deec823f7fb730e4bfb2a4ba625, on @user_script:1.",
    );
    check(
        &mut r,
        &["EVALSHA", "0123456789012345678901234567890123456789", "0"],
        "-NOSCRIPT No matching script. Please use EVAL.",
    );
    check(
        &mut r,
        &["EVAL", "return {err='My Error'}", "0"],
        "-My Error",
    );
    check(
        &mut r,
        &["EVAL", "return redis.pcall('incr', 's')", "0"],
        "-ERR value is not an integer or out of range",
    );
    check(
        &mut r,
        &["SCRIPT", "KILL"],
        "-NOTBUSY No scripts in execution right now.",
    );
    r.cmd(&[b"HELLO", b"3"]);
    // Booleans follow the script's protocol (redis.setresp), nulls the caller's.
    check(
        &mut r,
        &[
            "EVAL",
            "return {true, false, {double=1.5}, {map={a=1}}}",
            "0",
        ],
        "[:1, _, ,1.5, {\"a\": :1}]",
    );
    check(
        &mut r,
        &["EVAL", "redis.setresp(3) return {true, false}", "0"],
        "[#t, #f]",
    );
    check(
        &mut r,
        &[
            "EVAL",
            "redis.setresp(3) return redis.call('get', 'nokey')",
            "0",
        ],
        "_",
    );
}

/// COMMAND GETKEYS sees a script's declared keys (the one key extractor).
#[test]
fn declared_keys_are_the_command_keys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        send(
            &mut r,
            &["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"]
        ),
        r#"["a", "b"]"#
    );
    assert_eq!(
        send(&mut r, &["COMMAND", "GETKEYS", "EVALSHA_RO", "x", "1", "k"]),
        r#"["k"]"#
    );
}

const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// redis-py's Lock: SET NX PX to take it, EVALSHA (falling back to EVAL on
/// NOSCRIPT) of the release script to drop it only if still ours.
#[test]
fn redis_py_style_lock_through_the_redis_crate() {
    let s = Server::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let release = redis::Script::new(RELEASE);
    let take = |c: &mut redis::Connection, token: &str| -> bool {
        let r: Option<String> = redis::cmd("SET")
            .arg("lock:res")
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(10_000)
            .query(c)
            .expect("set");
        r.is_some()
    };
    assert!(take(&mut a, "token-a"));
    assert!(!take(&mut b, "token-b"));
    // B cannot release A's lock.
    let n: i64 = release
        .key("lock:res")
        .arg("token-b")
        .invoke(&mut b)
        .expect("eval");
    assert_eq!(n, 0);
    let n: i64 = release
        .key("lock:res")
        .arg("token-a")
        .invoke(&mut a)
        .expect("eval");
    assert_eq!(n, 1);
    assert!(take(&mut b, "token-b"));
    // After SCRIPT FLUSH the crate gets NOSCRIPT and falls back to EVAL.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut a)
        .expect("flush");
    let n: i64 = release
        .key("lock:res")
        .arg("token-b")
        .invoke(&mut b)
        .expect("eval");
    assert_eq!(n, 1);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("lock:res")
        .query(&mut a)
        .expect("exists");
    assert_eq!(exists, 0);
}

/// memkv's documented deviation: with `multi-rollback yes` (the default) a
/// script that fails after writing leaves nothing behind; with `no` it
/// behaves like Redis (the writes before the error stay).
#[test]
fn failing_script_rolls_back_with_multi_rollback() {
    let script =
        "redis.call('set', 'a', 'new') redis.call('del', 'b') return redis.call('incr', 'c')";
    for (rollback, want_a) in [("yes", r#""old""#), ("no", r#""new""#)] {
        let s = Server::start(&["--multi-rollback", rollback]);
        let mut r = s.raw();
        send(
            &mut r,
            &["MSET", "a", "old", "b", "kept", "c", "notanumber"],
        );
        let got = send(&mut r, &["EVAL", script, "0"]);
        assert!(got.starts_with("-ERR value is not an integer"), "{got}");
        assert_eq!(send(&mut r, &["GET", "a"]), want_a, "rollback {rollback}");
        let b = if rollback == "yes" {
            r#""kept""#
        } else {
            "$-1"
        };
        assert_eq!(send(&mut r, &["GET", "b"]), b, "rollback {rollback}");
    }
    // Real Redis keeps the writes, like `multi-rollback no`.
    if let Some(redis) = Server::start_redis(&[]) {
        let mut r = redis.raw();
        send(
            &mut r,
            &["MSET", "a", "old", "b", "kept", "c", "notanumber"],
        );
        send(&mut r, &["EVAL", script, "0"]);
        assert_eq!(send(&mut r, &["GET", "a"]), r#""new""#);
    }
}

/// Inside MULTI a failing script fails the EXEC (rolled back as a whole).
#[test]
fn script_inside_multi() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    send(&mut r, &["SET", "c", "x"]);
    send(&mut r, &["MULTI"]);
    assert_eq!(send(&mut r, &["SET", "a", "1"]), "+QUEUED");
    assert_eq!(
        send(
            &mut r,
            &["EVAL", "redis.call('set', 'b', '2') return 1", "0"]
        ),
        "+QUEUED"
    );
    assert_eq!(send(&mut r, &["EXEC"]), "[+OK, :1]");
    assert_eq!(send(&mut r, &["MGET", "a", "b"]), r#"["1", "2"]"#);
    send(&mut r, &["MULTI"]);
    send(&mut r, &["SET", "a", "changed"]);
    send(&mut r, &["EVAL", "return redis.call('incr', 'c')", "0"]);
    let got = send(&mut r, &["EXEC"]);
    assert!(got.starts_with("-EXECABORT Transaction rolled back: command #2 (EVAL) failed: ERR value is not an integer"), "{got}");
    assert_eq!(send(&mut r, &["GET", "a"]), r#""1""#);
}

/// A script's effects reach the AOF as the commands it ran (MULTI/EXEC
/// around more than one), never as EVAL; memkv and real Redis load them
/// back to the same data.
#[test]
fn aof_holds_effects_and_loads_in_both() {
    let dir = temp_dir("lua-aof");
    let files: Vec<(std::ffi::OsString, Vec<u8>)>;
    let digest;
    {
        let s = Server::start_in(&dir, common::AOF_ALWAYS);
        let mut r = s.raw();
        send(
            &mut r,
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 'v') redis.call('rpush', KEYS[2], 'a', 'b') return redis.call('incr', 'n')",
                "2",
                "k",
                "l",
            ],
        );
        send(
            &mut r,
            &["EVAL", "return redis.call('set', 'one', '1')", "0"],
        );
        send(&mut r, &["EVAL", "return redis.call('get', 'one')", "0"]);
        send(
            &mut r,
            &[
                "EVAL",
                "redis.call('set', 'tmp', 'x', 'EX', '100') return 1",
                "0",
            ],
        );
        send(
            &mut r,
            &[
                "EVAL",
                "redis.call('set', 'gone', 'x') return redis.call('incr', 'one', 'bad')",
                "0",
            ],
        );
        digest = send(&mut r, &["DEBUG", "DIGEST"]);
        // appendfsync always: every acknowledged write is in the files.
        files = std::fs::read_dir(dir.join("appendonlydir"))
            .expect("aof dir")
            .map(|e| {
                let p = e.expect("entry").path();
                (
                    p.file_name().expect("name").to_owned(),
                    std::fs::read(&p).expect("read"),
                )
            })
            .collect();
    }
    let incr: Vec<u8> = files
        .iter()
        .filter(|(n, _)| n.to_string_lossy().ends_with(".incr.aof"))
        .flat_map(|(_, b)| b.clone())
        .collect();
    let text = String::from_utf8_lossy(&incr).to_ascii_uppercase();
    assert!(!text.contains("EVAL"), "{text}");
    assert_eq!(text.matches("MULTI").count(), 1, "{text}");
    assert!(
        text.contains("RPUSH") && text.contains("INCR") && text.contains("PXAT"),
        "{text}"
    );
    let place = |tag: &str| {
        let d = temp_dir(tag);
        std::fs::create_dir_all(d.join("appendonlydir")).expect("mkdir");
        for (n, b) in &files {
            std::fs::write(d.join("appendonlydir").join(n), b).expect("write");
        }
        d
    };
    let again = Server::start_in(
        &place("lua-aof-memkv"),
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut r = again.raw();
    until_loaded(&mut r);
    assert_eq!(send(&mut r, &["DEBUG", "DIGEST"]), digest);
    assert_eq!(send(&mut r, &["LRANGE", "l", "0", "-1"]), r#"["a", "b"]"#);
    assert_eq!(send(&mut r, &["EXISTS", "gone"]), ":0");
    let rdir = place("lua-aof-redis");
    if let Some(redis) = Server::start_redis(&[
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--dir",
        rdir.to_str().expect("dir"),
    ]) {
        let mut r = redis.raw();
        until_loaded(&mut r);
        assert_eq!(send(&mut r, &["GET", "k"]), r#""v""#);
        assert_eq!(send(&mut r, &["GET", "n"]), r#""1""#);
        assert_eq!(send(&mut r, &["LRANGE", "l", "0", "-1"]), r#"["a", "b"]"#);
        assert_eq!(send(&mut r, &["DEBUG", "DIGEST"]), digest);
    }
    let _ = std::fs::remove_dir_all(&rdir);
}

/// In a cluster a script runs on the node owning its declared keys (any
/// node accepts it); a key it touches on another node is Redis's error.
#[test]
fn cluster_runs_scripts_where_their_keys_live() {
    let cluster = common::cluster::Cluster::start(3, &[]);
    let on0 = cluster.key_on(0, "k");
    let on1 = cluster.key_on(1, "k");
    let script = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])";
    // Sent to node 2, run on node 0.
    let mut r = cluster.nodes[2].raw();
    assert_eq!(send(&mut r, &["EVAL", script, "1", &on0, "v0"]), r#""v0""#);
    assert_eq!(send(&mut cluster.nodes[0].raw(), &["GET", &on0]), r#""v0""#);
    // Undeclared key on another node.
    let touch_other = format!("return redis.call('get', '{on1}')");
    let got = send(&mut r, &["EVAL", &touch_other, "1", &on0]);
    assert!(
        got.starts_with(
            "-ERR Script attempted to access a non local key in a cluster node script: "
        ),
        "{got}"
    );
    let got = send(&mut r, &["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"]);
    assert_eq!(
        got,
        "-ERR Can not run script on cluster, 'no-cluster' flag is set."
    );
}

/// A script's write invalidates another client's WATCH; SCRIPT FLUSH
/// empties the cache (EVALSHA then gets NOSCRIPT).
#[test]
fn watch_and_flush() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    send(&mut a, &["WATCH", "w"]);
    send(&mut a, &["MULTI"]);
    send(&mut a, &["SET", "x", "1"]);
    let sha = send(
        &mut b,
        &[
            "SCRIPT",
            "LOAD",
            "return redis.call('set', KEYS[1], 'by-script')",
        ],
    );
    let sha = sha.trim_matches('"').to_string();
    assert_eq!(send(&mut b, &["EVALSHA", &sha, "1", "w"]), "+OK");
    assert_eq!(send(&mut a, &["EXEC"]), "*-1");
    assert_eq!(send(&mut a, &["GET", "x"]), "$-1");
    // A read-only script does not invalidate.
    send(&mut a, &["WATCH", "w"]);
    send(&mut a, &["MULTI"]);
    send(&mut a, &["SET", "x", "1"]);
    assert_eq!(
        send(
            &mut b,
            &["EVAL", "return redis.call('get', KEYS[1])", "1", "w"]
        ),
        r#""by-script""#
    );
    assert_eq!(send(&mut a, &["EXEC"]), "[+OK]");
    assert_eq!(send(&mut b, &["SCRIPT", "FLUSH"]), "+OK");
    assert_eq!(
        send(&mut b, &["EVALSHA", &sha, "1", "w"]),
        "-NOSCRIPT No matching script. Please use EVAL."
    );
}

const LIMITER: &str = "local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return 0 end
return 1";

/// A fixed-window rate limiter from a real client (the redis crate's
/// EVALSHA-with-EVAL-fallback), the same answers as Redis.
#[test]
fn rate_limiter_through_the_redis_crate() {
    let run = |s: &Server| -> (Vec<i64>, i64) {
        let mut c = s.conn();
        let script = redis::Script::new(LIMITER);
        let got: Vec<i64> = (0..8)
            .map(|_| {
                script
                    .key("rl:user1")
                    .arg(60_000)
                    .arg(5)
                    .invoke(&mut c)
                    .expect("limiter")
            })
            .collect();
        let ttl: i64 = redis::cmd("PTTL")
            .arg("rl:user1")
            .query(&mut c)
            .expect("pttl");
        (got, ttl)
    };
    let (got, ttl) = run(&Server::start(&[]));
    assert_eq!(got, [1, 1, 1, 1, 1, 0, 0, 0]);
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    if let Some(r) = Server::start_redis(&[]) {
        assert_eq!(run(&r).0, got);
    }
}

/// Sends PING on `b` until the server answers BUSY (the script in flight
/// on another connection passed busy-reply-threshold); returns that reply.
fn wait_busy(b: &mut Raw) -> String {
    for _ in 0..3000 {
        let r = send(b, &["PING"]);
        if r.starts_with("-BUSY") {
            return r;
        }
        assert_eq!(r, "+PONG");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the script never became busy");
}

/// FUNCTION STATS without its duration (the one reply that varies).
fn without_duration(r: String) -> String {
    match r.find("\"duration_ms\", :") {
        Some(i) => {
            let rest = &r[i + 16..];
            let end = rest
                .find(|ch: char| !ch.is_ascii_digit())
                .unwrap_or(rest.len());
            format!("{}<ms>{}", &r[..i + 16], &rest[end..])
        }
        None => r,
    }
}

/// A busy script, as Redis: past busy-reply-threshold others get BUSY
/// (existing and new connections), SCRIPT KILL / FUNCTION KILL stop a
/// script that has not written (and refuse the other kind), FUNCTION STATS
/// shows the running function, a script that wrote is UNKILLABLE and
/// SHUTDOWN NOSAVE exits without answering its caller.
fn busy_transcript(s: &Server) -> Vec<String> {
    let mut out = Vec::new();
    let mut a = s.raw();
    let mut b = s.raw();
    a.send(&encode(&[
        b"EVAL",
        b"local i = 0 while true do i = i + 1 end",
        b"0",
    ]));
    out.push(wait_busy(&mut b));
    out.push(send(&mut b, &["GET", "x"]));
    out.push(send(&mut b, &["FUNCTION", "KILL"]));
    out.push(send(&mut b, &["FUNCTION", "STATS"]));
    out.push(send(&mut b, &["SHUTDOWN"]));
    let mut c = s.raw();
    out.push(send(&mut c, &["SCRIPT", "KILL"]));
    out.push(render(&a.read_reply()));
    out.push(send(&mut b, &["PING"]));
    out.push(send(&mut b, &["SCRIPT", "KILL"]));
    // A loop that catches errors with pcall is killed all the same.
    a.send(&encode(&[
        b"EVAL",
        b"while true do pcall(function() for i=1,1000 do end end) end",
        b"0",
    ]));
    out.push(wait_busy(&mut b));
    out.push(send(&mut b, &["SCRIPT", "KILL"]));
    out.push(render(&a.read_reply()));
    out.push(send(
        &mut b,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=busy\n\
             redis.register_function('spin', function(k, a) local i = 0 while true do i = i + 1 end end)\n\
             redis.register_function('spinw', function(k) redis.call('set', k[1], 'x') while true do end end)",
        ],
    ));
    a.send(&encode(&[b"FCALL", b"spin", b"1", b"key", b"arg"]));
    out.push(wait_busy(&mut b));
    out.push(send(&mut b, &["SCRIPT", "KILL"]));
    out.push(without_duration(send(&mut b, &["FUNCTION", "STATS"])));
    out.push(send(&mut b, &["FUNCTION", "KILL"]));
    out.push(render(&a.read_reply()));
    a.send(&encode(&[b"FCALL", b"spinw", b"1", b"kk"]));
    out.push(wait_busy(&mut b));
    out.push(send(&mut b, &["FUNCTION", "KILL"]));
    out.push(send(&mut b, &["GET", "kk"]));
    b.send(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    out.push(format!("shutdown closed: {}", b.is_closed()));
    out.push(format!("caller closed: {}", a.is_closed()));
    out
}

#[test]
fn busy_script_answers_busy_and_is_killed_like_redis() {
    let args = ["--busy-reply-threshold", "100"];
    let m = Server::start(&args);
    let got = busy_transcript(&m);
    assert_eq!(
        got[0],
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(got[5], "+OK");
    assert!(
        got[6].starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        got[6]
    );
    assert_eq!(got[7], "+PONG");
    assert!(
        got[11].starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "pcall does not swallow the kill: {}",
        got[11]
    );
    assert!(got[15].contains("\"name\", \"spin\""), "{}", got[15]);
    assert!(got[19].starts_with("-UNKILLABLE"), "{}", got[19]);
    assert_eq!(got[got.len() - 1], "caller closed: true");
    if let Some(r) = Server::start_redis(&args) {
        assert_eq!(got, busy_transcript(&r));
    }
}

/// What a busy script pushed is not handed to a blocked client while the
/// script still runs (the mini event loop serves commands, not blocked
/// clients): the script still sees its element at the end, as in Redis.
#[test]
fn busy_script_does_not_serve_blocked_clients_meanwhile() {
    let args = ["--busy-reply-threshold", "100"];
    let run = |s: &Server| -> (String, String) {
        let mut blocked = s.raw();
        let mut a = s.raw();
        let mut b = s.raw();
        blocked.send(&encode(&[b"BLPOP", b"q", b"0"]));
        // Converges: the BLPOP is parked once CLIENT LIST shows it.
        for _ in 0..600 {
            if send(&mut b, &["CLIENT", "LIST"]).contains("cmd=blpop") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Runs 2 s of wall time (past the 100 ms threshold) after pushing.
        a.send(&encode(&[
            b"EVAL",
            b"redis.call('rpush', KEYS[1], 'x') \
              local s = redis.call('time') local t0 = s[1] * 1000000 + s[2] \
              repeat local t = redis.call('time') until t[1] * 1000000 + t[2] - t0 > 2000000 \
              return redis.call('llen', KEYS[1])",
            b"1",
            b"q",
        ]));
        wait_busy(&mut b);
        (render(&a.read_reply()), render(&blocked.read_reply()))
    };
    let m = Server::start(&args);
    let got = run(&m);
    assert_eq!(got, (":1".to_string(), r#"["q", "x"]"#.to_string()));
    if let Some(r) = Server::start_redis(&args) {
        assert_eq!(run(&r), got);
    }
}

/// Scripts over maxmemory (noeviction), as Redis 7.0's scriptPrepareForRun
/// and scriptVerifyOOM: a script without shebang runs and its denyoom
/// commands fail until it has written; a flagged script that may write is
/// refused at start unless `allow-oom`; no-writes and EVAL_RO run.
#[test]
fn scripts_over_maxmemory_match_redis() {
    const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    let cmds: &[Cmd] = &[
        &["SET", "k", "v"],
        &["SCRIPT", "LOAD", "#!lua\nreturn 1"],
        &["SCRIPT", "LOAD", "return redis.call('set', KEYS[1], 'z')"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["EVAL", "return redis.call('set', 'a', '1')", "0"],
        &["EVAL", "return redis.pcall('set', 'a', '1')", "0"],
        &[
            "EVAL",
            "local e = redis.pcall('incr', 'n') return e.err",
            "0",
        ],
        &["EVAL", "return redis.call('get', 'k')", "0"],
        &["EVAL", "return redis.call('del', 'a')", "0"],
        // A write first (DEL is not denyoom): the script may go on.
        &[
            "EVAL",
            "redis.call('del', 'nokey') return redis.call('set', 'a', '1')",
            "0",
        ],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get', 'k')",
            "0",
        ],
        &[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('set', 'b', '2')",
            "0",
        ],
        &["EVAL_RO", "return redis.call('get', 'k')", "0"],
        &["EVAL_RO", "return redis.call('set', 'k', '1')", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["EVALSHA", "cb70127618f0b0be70c53cf6bfcfa54a29d9b0c0", "0"],
        &["EVALSHA", "5ba6b24e8b1ee7e7e6e5d6d0f4df5b1e4e5b3a1c", "0"],
        &[
            "EVALSHA",
            "2eba4ce252979588f00e57dab3095e51633bb84f",
            "1",
            "k",
        ],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["GET", "a"],
        &["GET", "b"],
    ];
    let got = differential(false, cmds);
    let want_prefix = ["+OK", "\"cb70127618f0b0be70c53cf6bfcfa54a29d9b0c0\""];
    assert_eq!(&got[..2], &want_prefix);
    assert!(
        got[4].starts_with(&format!("-{OOM} script: ")),
        "{}",
        got[4]
    );
    assert_eq!(got[5], format!("-{OOM}"));
    assert_eq!(got[6], format!("\"{OOM}\""));
    assert_eq!(got[7], "\"v\"");
    assert_eq!(got[8], ":0");
    assert_eq!(got[9], "+OK");
    assert_eq!(got[10], format!("-{OOM}"));
    assert_eq!(got[11], "\"v\"");
    assert_eq!(got[12], "+OK");
    assert_eq!(got[13], "\"v\"");
    assert!(got[14].starts_with("-ERR Write commands are not allowed from read-only scripts."));
    assert_eq!(got[15], format!("-{OOM}"));
    assert_eq!(got[16], format!("-{OOM}"));
    assert_eq!(got[17], "-NOSCRIPT No matching script. Please use EVAL.");
    assert!(
        got[18].starts_with(&format!("-{OOM} script: ")),
        "{}",
        got[18]
    );
    assert_eq!(&got[19..], &["+OK", ":1", "\"1\"", "\"2\""]);
}

/// lua-cjson's settings as Redis 7.0 bundles them: getters / setters with
/// their argument errors, and their effect on encode and decode; they last
/// for the interpreter's life (later scripts see them), `cjson.new()` has
/// its own.
#[test]
fn cjson_settings_match_redis() {
    let scripts = [
        "return {cjson.encode_keep_buffer(), cjson.encode_max_depth(), cjson.decode_max_depth(), \
         cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_number_precision()}",
        "return {cjson.encode_sparse_array()}",
        "return type(cjson.new)",
        "return cjson.encode_max_depth(0)",
        "return cjson.encode_max_depth(1, 2)",
        "return cjson.encode_max_depth('a')",
        "return cjson.encode_max_depth({})",
        "return cjson.encode({1/0})",
        "return cjson.encode_invalid_numbers('null')",
        "return cjson.encode({1/0, 0/0, -1/0, [5]=1})",
        "return cjson.encode_invalid_numbers('on')",
        "return cjson.encode({1/0, 0/0, -1/0})",
        "return cjson.encode({[1/0]=1})",
        "return cjson.encode_invalid_numbers()",
        "return cjson.encode_invalid_numbers(false)",
        "return cjson.encode_invalid_numbers('x')",
        "return cjson.encode_invalid_numbers(5)",
        "return cjson.encode_number_precision(3)",
        "return cjson.encode({3.14159, 1234567, {[2.5]=1}})",
        "return cjson.encode_number_precision(15)",
        "return cjson.encode_number_precision(14)",
        "return cjson.encode_keep_buffer('off')",
        "return cjson.encode_keep_buffer(true)",
        "return cjson.decode('[1e2, -0.5, 01]')",
        "return cjson.decode('[0x10, 1]')",
        "return cjson.encode(cjson.decode('[inf, -inf, Infinity, 1e2]'))",
        "return tostring(cjson.decode('nan'))",
        "return cjson.decode('+1')",
        "return cjson.decode('[1.5.5]')",
        "return cjson.decode_invalid_numbers(false)",
        "return cjson.decode('[0x10]')",
        "return cjson.decode('[01]')",
        "return cjson.decode('[inf]')",
        "return cjson.decode('[-5]')",
        "return cjson.decode_invalid_numbers('on')",
        "return cjson.encode({[1]=1, [12]=2})",
        "return {cjson.encode_sparse_array(true, 2, 3)}",
        "return cjson.encode({[1]=1, [10]=2})",
        "return {cjson.encode_sparse_array(false, 0)}",
        "return cjson.encode({[1]=1, [20]=2})",
        "return {cjson.encode_sparse_array(nil, -1)}",
        "return cjson.decode_max_depth(2)",
        "return cjson.decode('[[1]]')",
        "return cjson.decode('[[[1]]]')",
        "return cjson.encode_max_depth(2)",
        "return cjson.encode({{1}})",
        "return cjson.encode({{{1}}})",
        "local c = cjson.new() return {c.encode_max_depth(), c.encode({{{1}}}), cjson.encode_max_depth()}",
    ];
    let cmds: Vec<Vec<&str>> = scripts.iter().map(|s| vec!["EVAL", *s, "0"]).collect();
    let cmds: Vec<Cmd> = cmds.iter().map(|c| c.as_slice()).collect();
    let got = differential(false, &cmds);
    assert_eq!(got[0], "[:1, :1000, :1000, $-1, :1, :14]");
    assert_eq!(got[8], "\"null\"");
    assert_eq!(got[9], "\"[null,null,null,null,1]\"");
    assert_eq!(got[11], "\"[inf,nan,-inf]\"");
    assert_eq!(got[18], "\"[3.14,1.23e+06,{\\\"2.5\\\":1}]\"");
}
