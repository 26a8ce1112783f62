c = get_config()
c.ServerApp.ip = "0.0.0.0"
