require("./lib/routes")
