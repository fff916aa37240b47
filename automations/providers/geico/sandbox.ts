/**
 * The GEICO sandbox: policies are a server-rendered page (parsed as HTML by
 * the automation); the account is JSON.
 *
 * @module
 */
import { html } from "hono/html";
import type { SandboxSite, SandboxUser } from "../../sandbox/_site.ts";

interface SandboxPolicy {
  number: string;
  title: string;
  status: string;
  period: string;
  premium: string;
  insured: string;
  coverages: Array<[string, string, string]>;
}

const POLICIES: SandboxPolicy[] = [
  {
    number: "4471-22-981-3306",
    title: "Auto Policy",
    status: "Active",
    period: "01/15/2025 - 07/15/2025",
    premium: "$612.40 / 6 months",
    insured: "Morgan Blake",
    coverages: [
      ["Bodily Injury Liability", "$100,000 / $300,000", "—"],
      ["Property Damage Liability", "$100,000", "—"],
      ["Collision", "Actual cash value", "$500"],
      ["Comprehensive", "Actual cash value", "$250"],
      ["Uninsured Motorist", "$100,000 / $300,000", "—"],
    ],
  },
  {
    number: "RN-0092-7718",
    title: "Renters Policy",
    status: "Active",
    period: "09/01/2024 - 09/01/2025",
    premium: "$148.00 / year",
    insured: "Morgan Blake",
    coverages: [
      ["Personal Property", "$30,000", "$500"],
      ["Personal Liability", "$100,000", "—"],
    ],
  },
];

const policiesPage = (user: SandboxUser) =>
  user === "good"
    ? html`${
      POLICIES.map((p) =>
        html`
          <article class="policy" data-policy-number="${p.number}">
            <h2 class="policy-title">${p.title}</h2>
            <dl>
              <dt>Policy number</dt>
              <dd class="number">${p.number}</dd>
              <dt>Status</dt>
              <dd class="status">${p.status}</dd>
              <dt>Policy period</dt>
              <dd class="period">${p.period}</dd>
              <dt>Premium</dt>
              <dd class="premium">${p.premium}</dd>
              <dt>Named insured</dt>
              <dd class="insured">${p.insured}</dd>
            </dl>
            <table class="coverages">
              <thead>
                <tr>
                  <th>Coverage</th>
                  <th>Limits</th>
                  <th>Deductible</th>
                </tr>
              </thead>
              <tbody>${p.coverages.map(([name, limit, deductible]) =>
                html`
                  <tr>
                    <td class="name">${name}</td>
                    <td class="limit">${limit}</td>
                    <td class="deductible">${deductible}</td>
                  </tr>
                `
              )}</tbody>
            </table>
          </article>
        `
      )
    }`
    // the new policy centre: summary tiles only
    : html`
      <div class="tiles">
        <div class="tile">Auto · 2 vehicles</div>
        <div class="tile">Renters</div>
      </div>
    `;

/** GEICO's sandbox site. */
const site: SandboxSite = {
  color: "#154b8b",
  nav: [["/policies", "Policies"]],
  account: (user) =>
    user === "good"
      ? {
        policyholder: {
          name: { first: "Morgan", last: "Blake" },
          email: "morgan.blake@example.com",
          phone: "(212) 555-0164",
        },
        customerSince: "2018-04-09",
      }
      : { policyholderName: "MORGAN BLAKE" },
  routes(site) {
    site.page("/policies", "Your policies", policiesPage);
  },
};

export default site;
