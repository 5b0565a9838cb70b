-- Runs an Argo CD health script the way Argo CD does: the resource is the global `obj` and the
-- script returns a table with status and message.
--   lua5.4 argocd-health-harness.lua <health.lua> <object.lua>
-- <object.lua> assigns the global `obj`. Prints "<status>\t<message>".
dofile(arg[2])
local hs = dofile(arg[1])
if type(hs) ~= "table" or type(hs.status) ~= "string" then
  io.stderr:write("the health script returned no status\n")
  os.exit(2)
end
print(hs.status .. "\t" .. (hs.message or ""))
