-- memkv's Lua sandbox, run once when the interpreter is created (chunk
-- name "=memkv", so the error handler can skip these frames).
-- Redis 7.0 makes the globals table and the library tables read-only (a
-- patched VM); vanilla Lua 5.1 gets the same effect from proxies: the real
-- globals table stays empty, reads fall through to a backing table `B`,
-- reading a missing name and writing anything raise Redis's errors.
local H, native = ...
local B = {}
local G = _G
local pairs, rawset0, error, type, tostring, setmetatable, select =
    pairs, rawset, error, type, tostring, setmetatable, select
local dbg = debug
for k, v in pairs(_G) do B[k] = v end
for _, n in ipairs({ 'loadfile', 'dofile', 'print', 'debug', 'setfenv', 'getfenv',
    'module', 'require', 'newproxy', 'package', 'os', 'io' }) do
    B[n] = nil
end

-- readonly_set[proxy] = the table it stands for: raw access and
-- iteration (rawget, next, pairs) see the real contents, as in Redis.
local readonly_set = setmetatable({}, { __mode = 'k' })
local function ro_error() error('Attempt to modify a readonly table', 2) end
local function readonly(t)
    local p = setmetatable({}, { __index = t, __newindex = ro_error, __metatable = false })
    readonly_set[p] = t
    return p
end
local rawget0, next0 = rawget, next
B.rawget = function(t, k) return rawget0(readonly_set[t] or t, k) end
B.next = function(t, k) return next0(readonly_set[t] or t, k) end
B.pairs = function(t) return next0, readonly_set[t] or t, nil end
B.rawset = function(t, k, v)
    if readonly_set[t] then error('Attempt to modify a readonly table', 0) end
    return rawset0(t, k, v)
end

local setmetatable0 = setmetatable
B.setmetatable = function(t, mt)
    if readonly_set[t] then error('Attempt to modify a readonly table', 0) end
    return setmetatable0(t, mt)
end

-- The redis library.
local redis = {}
-- redis.call / redis.pcall are C functions set into this table after
-- this chunk (so a tail call `return redis.call(...)` keeps the user's
-- frame, as Redis's C functions do); redis.call raises its error table.
-- Rust natives raise a Rust error and leave the error table in H.err,
-- which the handler and pcall pick up.
H.redis = redis
local function take_err(e)
    if type(e) == 'userdata' and H.err then
        e = H.err
        H.err = nil
    end
    return e
end
local pcall0, unpack0, maxn = pcall, unpack, table.maxn
B.pcall = function(f, ...)
    local r = { pcall0(f, ...) }
    if not r[1] then
        -- Redis 7.0's luaRedisPcall: an error table becomes its `err` text.
        local e = take_err(r[2])
        if type(e) == 'table' and type(e.err) == 'string' then e = e.err end
        r[2] = e
    end
    return unpack0(r, 1, maxn(r))
end
local function push_error(msg)
    -- Redis's luaPushErrorBuff: "-CODE rest" keeps CODE, anything else is ERR.
    if msg:sub(1, 1) == '-' then
        local sp = msg:find(' ', 1, true)
        if sp then
            return { err = msg:sub(2, sp - 1) .. ' ' .. msg:sub(sp + 1):gsub('[\r\n]+$', '') }
        end
        return { err = 'ERR ' .. msg:sub(2):gsub('[\r\n]+$', '') }
    end
    return { err = 'ERR ' .. msg:gsub('[\r\n]+$', '') }
end
redis.error_reply = function(...)
    local m = ...
    if select('#', ...) ~= 1 or type(m) ~= 'string' then
        return push_error('wrong number or type of arguments')
    end
    if m:sub(1, 1) ~= '-' then m = '-' .. m end
    return push_error(m)
end
redis.status_reply = function(...)
    local m = ...
    if select('#', ...) ~= 1 or type(m) ~= 'string' then
        return push_error('wrong number or type of arguments')
    end
    return { ok = m }
end
-- Functions that raise are Rust functions (native.*): a Lua wrapper
-- called as `return redis.x(...)` would be a tail call and lose the
-- user's frame that error messages name.
redis.sha1hex = native.sha1hex
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.log = native.log
redis.setresp = native.setresp
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = native.set_repl
redis.acl_check_cmd = native.acl_check_cmd
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = native.version
redis.REDIS_VERSION_NUM = native.version_num
B.redis = redis

-- math.random / math.randomseed with Redis's rand48 (seeded 0 per script).
local math2 = {}
for k, v in pairs(B.math) do math2[k] = v end
math2.random = native.random
math2.randomseed = native.randomseed
B.math = math2

for _, n in ipairs({ 'string', 'math', 'table', 'redis', 'coroutine', 'bit', 'cjson', 'cmsgpack', 'struct' }) do
    if B[n] then B[n] = readonly(B[n]) end
end

-- Strings share one metatable across scripts: point it at the read-only
-- string table and hand out a read-only view of it, so no script can
-- change what another script's ('x'):upper() does.
local string_mt = { __index = B.string }
string_mt.__metatable = readonly({ __index = B.string })
dbg.setmetatable('', string_mt)

-- Redis's __redis__err__handler: string errors become {err='ERR ...'} and
-- the table gets the position of the user code that raised it (frames of
-- C functions and of this sandbox are skipped).
local getinfo = dbg.getinfo
B.__redis__err__handler = function(err)
    local lvl, i = 2, nil
    while true do
        i = getinfo(lvl, 'nSl')
        if not i then break end
        if i.what ~= 'C' and i.source ~= '=memkv' then break end
        lvl = lvl + 1
    end
    err = take_err(err)
    if type(err) ~= 'table' then
        err = { err = 'ERR ' .. tostring(err) }
    end
    if i then
        err['source'] = i.source
        err['line'] = i.currentline
    end
    return err
end
local handler = B.__redis__err__handler
local xpcall = xpcall
-- Runs a compiled script in protected mode with Redis's handler, with
-- fresh KEYS / ARGV tables (H.args, a C function, builds them from the
-- caller's argv); a function (FCALL) gets them as parameters.
local args = H.args
H.run = function(f)
    H.err = nil
    B.KEYS, B.ARGV = args()
    return xpcall(f, handler)
end
-- (no closure per call: the function and its parameters wait in H.)
local function call_fn() return H.f(H.k, H.a) end
H.run_fn = function(f)
    H.err = nil
    H.f, H.k, H.a = f, args()
    local ok, v = xpcall(call_fn, handler)
    H.f, H.k, H.a = nil, nil, nil
    return ok, v
end

B._G = G
local names = {}
for k in pairs(G) do names[#names + 1] = k end
for _, k in ipairs(names) do rawset0(G, k, nil) end
readonly_set[G] = B
setmetatable(B, {
    __index = function(_, k)
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end,
})
local G_mt = { __index = B, __newindex = ro_error, __metatable = false }
setmetatable(G, G_mt)

-- The functions engine (FUNCTION LOAD): while a library's code runs, the
-- globals are only `redis` with register_function, log, LOG_* and
-- REDIS_VERSION(_NUM); anything else is a nonexistent global, as in
-- Redis's luaEngineCreate.
if native.register_function then
    local function strict(t)
        return setmetatable0(t, {
            __index = function(_, k)
                error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
            end,
        })
    end
    local api = {
        register_function = native.register_function,
        log = native.log,
        LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
        REDIS_VERSION = native.version,
        REDIS_VERSION_NUM = native.version_num,
    }
    local L = strict({ redis = readonly(strict(api)) })
    H.load_mode = function(on) G_mt.__index = on and L or B end
    H.load = function(f)
        local ok, e = pcall0(f)
        if ok then return true end
        return false, take_err(e)
    end
end
return B
