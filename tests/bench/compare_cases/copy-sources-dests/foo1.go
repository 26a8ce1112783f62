f1
