/**
 * What the sandboxes show `user_good` (the figures in
 * `automations/sandbox/README.md`), as results: what the automation test
 * expects, valid results for the result-schema tests, and what the webhook
 * tests deliver.
 */
import type {
  AccountOwnership,
  InsurancePolicies,
  MobileBillingStatement,
  PaymentMethods,
} from "@passage/connect/results";

/** The bill, from `mobileBillingStatement:read`. */
export const TMOBILE_BILL: MobileBillingStatement = {
  accountNumberLast4: "0457",
  statementDate: "2025-03-01",
  periodStart: "2025-02-01",
  periodEnd: "2025-02-28",
  dueDate: "2025-03-22",
  amountDue: "142.50",
  previousBalance: "138.20",
  paymentsReceived: "138.20",
  currency: "USD",
  autopay: true,
  lineItems: [
    { description: "Go5G Plus (2 lines)", amount: "130.00", category: "service" },
    { description: "AutoPay discount", amount: "-10.00", category: "discount" },
    { description: "Device payment: Pixel 9 (4 of 24)", amount: "13.00", category: "equipment" },
    { description: "Taxes & fees", amount: "9.50", category: "tax" },
  ],
};

/** A card and a bank account, from `paymentMethod:read`. */
export const TMOBILE_PAYMENT_METHODS: PaymentMethods = {
  paymentMethods: [
    {
      type: "card",
      brand: "visa",
      last4: "4242",
      expMonth: 8,
      expYear: 2027,
      holderName: "Alex Rivera",
      isDefault: true,
    },
    { type: "bank_account", bankName: "Chase", last4: "6789", isDefault: false },
  ],
};

/** The account holder, from `accountOwnership:verify`. */
export const TMOBILE_OWNER: AccountOwnership = {
  verified: true,
  accountHolderName: "Alex Rivera",
  emailMasked: "a***@example.com",
  phoneMasked: "•••-•••-0147",
  accountCreatedAt: "2019-06-14",
};

/** The GEICO policies, from `insurancePolicy:read`. */
export const GEICO_POLICIES: InsurancePolicies = {
  policies: [
    {
      policyNumberLast4: "3306",
      type: "auto",
      status: "active",
      effectiveDate: "2025-01-15",
      expirationDate: "2025-07-15",
      premium: "612.40",
      premiumFrequency: "semiannual",
      currency: "USD",
      insuredName: "Morgan Blake",
      coverages: [
        { name: "Bodily Injury Liability (per person)", limit: "100000.00" },
        { name: "Bodily Injury Liability (per accident)", limit: "300000.00" },
        { name: "Property Damage Liability", limit: "100000.00" },
        { name: "Collision", deductible: "500.00" },
        { name: "Comprehensive", deductible: "250.00" },
        { name: "Uninsured Motorist (per person)", limit: "100000.00" },
        { name: "Uninsured Motorist (per accident)", limit: "300000.00" },
      ],
    },
    {
      policyNumberLast4: "7718",
      type: "renters",
      status: "active",
      effectiveDate: "2024-09-01",
      expirationDate: "2025-09-01",
      premium: "148.00",
      premiumFrequency: "annual",
      currency: "USD",
      insuredName: "Morgan Blake",
      coverages: [
        { name: "Personal Property", limit: "30000.00", deductible: "500.00" },
        { name: "Personal Liability", limit: "100000.00" },
      ],
    },
  ],
};
