"""The planning run (MRP). Sits on top of inventory, planning, production and sales: it may
import all of them, nothing outside this package imports it at module level except
production's firming service (which only uses ``planning.mrp.services``)."""
