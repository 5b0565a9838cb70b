-- Argo CD health check for tunnelkeeper.io/PortForward.
-- Install under resource.customizations.health.tunnelkeeper.io_PortForward in argocd-cm
-- (see docs/health-checks.md). Written for Argo CD's Lua (gopher-lua, Lua 5.1); it also runs
-- unchanged on Lua 5.4, which the tests use.
--
-- Checked in this order (as kstatus does, a generation the controller has not yet observed
-- comes first, so a fixed spec is never reported with the old verdict):
--   Suspended    Ready=False with reason Suspended (spec.suspend: tunnels closed on purpose).
--   Degraded     Stalled=True, or Ready=False with a reason that needs a person (RBAC, spec,
--                configuration): retrying alone will not fix it.
--   Progressing  no status yet, generation not yet observed, Reconciling=True, Ready Unknown,
--                missing, or False with a reason that resolves by itself (pods starting,
--                gateways connecting).
--   Healthy      Ready=True for the current generation.

-- The reasons the controller also reports as kstatus Stalled (src/controller/readiness-policies.ts).
local needsPerson = {
  Forbidden = true,
  ProtocolUnsupported = true,
  PortNotExposed = true,
  ServiceConflict = true,
  PortsExhausted = true,
  RemoteKubeconfigInvalid = true,
  RemoteTLSFailed = true,
  RemoteUnauthorized = true,
  RemoteForbidden = true,
}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local text = condition.reason or fallback
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local hs = {}

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the tunnelkeeper controller to report status"
  return hs
end

local conditions = obj.status.conditions
local ready = findCondition(conditions, "Ready")
local stalled = findCondition(conditions, "Stalled")
local reconciling = findCondition(conditions, "Reconciling")
local degraded = findCondition(conditions, "Degraded")

local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

if ready ~= nil and ready.status == "False" and ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = describe(ready, "Suspended")
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "False" and needsPerson[ready.reason or ""] then
  hs.status = "Degraded"
  hs.message = describe(ready, "NotReady")
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  if degraded ~= nil and degraded.status == "True" then
    hs.message = hs.message .. " (" .. describe(degraded, "Degraded") .. ")"
  end
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "NotReady")
return hs
