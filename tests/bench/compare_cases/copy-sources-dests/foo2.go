f2
