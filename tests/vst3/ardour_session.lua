-- Headless Ardour 7 (ardour7-lua, Dummy backend) session round trip for Counterpart.
--
-- Everything comes from the environment (ardour7-lua's getopt would eat a negative number
-- given as a script argument, e.g. "-6", as an option):
--   RT_MODE          create | verify
--   RT_DIR, RT_NAME  session folder and name
--   RT_RATE          session sample rate
--   RT_PLUGIN        plugin name as Ardour lists it ("Counterpart")
--   RT_LABEL         parameter label to set (create) / check (verify), e.g. "Stem 1 Gain"
--   RT_VALUE         value in Ardour's units for VST3 = the plugin's plain value
--   RT_EXPECT        comma list of parameter labels that must exist
-- create: new session, stereo track "VST3 Test", insert the plugin, set RT_LABEL, save, close.
-- verify: load the session, find the plugin, check RT_LABEL, save as snapshot "<NAME>-reopened".
-- Prints "OK: <mode>" on success; every failure prints "FAIL: ..." and exits 1.

local mode, dir, name = os.getenv("RT_MODE"), os.getenv("RT_DIR"), os.getenv("RT_NAME")
local rate, plugin_name = tonumber(os.getenv("RT_RATE") or ""), os.getenv("RT_PLUGIN")
local label, value, expect = os.getenv("RT_LABEL"), tonumber(os.getenv("RT_VALUE") or ""), os.getenv("RT_EXPECT")
local TRACK = "VST3 Test"

local function fail(msg)
	print("FAIL: " .. msg)
	pcall(close_session)
	os.exit(1)
end

if not (mode and dir and name and rate and plugin_name and label and value) then
	fail("RT_MODE RT_DIR RT_NAME RT_RATE RT_PLUGIN RT_LABEL RT_VALUE must be set")
end

-- label -> index among control parameters (what LuaAPI.{get,set}_processor_param take)
local function params_of(proc)
	local plug = proc:to_insert():plugin(0)
	local map, n = {}, 0
	for j = 0, plug:parameter_count() - 1 do
		if plug:parameter_is_control(j) then
			map[plug:parameter_label(j)] = { n = n, input = plug:parameter_is_input(j) }
			n = n + 1
		end
	end
	return plug, map, n
end

local function check_expected(map)
	if not expect or expect == "" then return end
	for l in string.gmatch(expect, "([^,]+)") do
		if not map[l] then fail("expected parameter '" .. l .. "' not found") end
	end
end

local function close_enough(a, b)
	return math.abs(a - b) <= 1e-4 * math.max(1, math.abs(b))
end

-- Parameter n of proc once it reads `want`, letting the (dummy) engine run at least 300 ms and
-- then 100 ms between reads (the value reaches the audio processor and its state chunk on the
-- engine's cycles, later on a busy machine); after about 10 s, whatever it reads then.
local function settled_param(proc, n, want)
	local got
	for i = 1, 100 do
		ARDOUR.LuaAPI.usleep(100000)
		got = ARDOUR.LuaAPI.get_processor_param(proc, n, true)
		if i >= 3 and close_enough(got, want) then break end
	end
	return got
end

local function find_plugin(route)
	for i = 0, 64 do
		local p = route:nth_plugin(i)
		if p:isnil() then break end
		if p:display_name() == plugin_name or p:to_insert():plugin(0):name() == plugin_name then
			return p
		end
	end
	return nil
end

if mode == "create" then
	if not create_session(dir, name, rate) then fail("create_session failed") end
	if Session:nominal_sample_rate() ~= rate then
		fail("session rate " .. Session:nominal_sample_rate() .. " ~= " .. rate)
	end
	local tl = Session:new_audio_track(2, 2, nil, 1, TRACK,
		ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
	if tl:size() ~= 1 then fail("new_audio_track failed") end
	local route = tl:front()
	local proc = ARDOUR.LuaAPI.new_plugin(Session, plugin_name, ARDOUR.PluginType.VST3, "")
	if proc:isnil() then fail("VST3 plugin '" .. plugin_name .. "' not found (scan cache / VST3_PATH?)") end
	if route:add_processor_by_index(proc, 0, nil, true) ~= 0 then fail("add_processor_by_index failed") end

	local plug, map, count = params_of(proc)
	print(string.format("INFO: inserted %s (unique-id %s) on '%s', %d control parameters",
		plug:name(), plug:unique_id(), route:name(), count))
	check_expected(map)
	local p = map[label]
	if not p then fail("no parameter labelled '" .. label .. "'") end
	local before = ARDOUR.LuaAPI.get_processor_param(proc, p.n, true)
	if close_enough(before, value) then fail(label .. " already is " .. before .. "; choose another value") end
	if not ARDOUR.LuaAPI.set_processor_param(proc, p.n, value) then fail("set_processor_param failed") end
	-- let the (dummy) engine run so the value reaches the audio processor and its state chunk
	local got = settled_param(proc, p.n, value)
	print(string.format("SET: %s %s -> %s (read back %s)", label, tostring(before), tostring(value), tostring(got)))
	if not close_enough(got, value) then fail("read back " .. got) end
	if Session:save_state("", false, false, false, false, false) ~= 0 then fail("save_state failed") end
	print("SAVED: " .. dir .. "/" .. name .. ".ardour")
	close_session()
	print("OK: create")
elseif mode == "verify" then
	if not load_session(dir, name) then fail("load_session failed") end
	if Session:nominal_sample_rate() ~= rate then fail("reopened session rate " .. Session:nominal_sample_rate()) end
	local route = Session:route_by_name(TRACK)
	if route:isnil() then fail("track '" .. TRACK .. "' missing after reopen") end
	local proc = find_plugin(route)
	if not proc then fail("plugin '" .. plugin_name .. "' missing after reopen") end
	if not proc:to_insert():enabled() then fail("plugin inactive after reopen") end
	local plug, map = params_of(proc)
	check_expected(map)
	local p = map[label]
	if not p then fail("no parameter labelled '" .. label .. "' after reopen") end
	local got = settled_param(proc, p.n, value)
	print(string.format("REOPENED: %s on '%s': %s = %s", plug:name(), route:name(), label, tostring(got)))
	if not close_enough(got, value) then
		fail(string.format("%s = %s after reopen, expected %s", label, tostring(got), tostring(value)))
	end
	if Session:save_state(name .. "-reopened", false, false, false, false, false) ~= 0 then fail("save_state failed") end
	print("SAVED: " .. dir .. "/" .. name .. "-reopened.ardour")
	close_session()
	print("OK: verify")
else
	fail("unknown RT_MODE " .. tostring(mode))
end
