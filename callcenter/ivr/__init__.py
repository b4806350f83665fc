"""IVR: YAML call flows (ivr_flows/) that admins edit, executed by the controller over ARI."""
