"""`admission` front end: the policy as a MutatingAdmissionPolicy, for pods that no renderer sees."""
