print("inv")
